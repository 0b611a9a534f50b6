package keychain

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/ecr"
	"github.com/org/ms-build-action/internal/registry"
)

// Options are what a Keychain reads from.
type Options struct {
	// ECR returns an ECR client for a region, for the hosts of ECR
	// registries; nil leaves those hosts to the Docker config.
	ECR func(ctx context.Context, region string) (ecr.API, error)
	// DockerConfig is the directory of the Docker config (config.json), as
	// DOCKER_CONFIG names it, else ~/.docker. It is only read.
	DockerConfig string
	// Mask is called with every password before it is handed out.
	Mask func(secret string)
	// Now is the clock for token expiry; nil is time.Now.
	Now func() time.Time
}

// Keychain answers for the registries a build pulls from: an ECR host (any
// account, any region) with a token from its region, fetched when first
// asked and kept for the run; any other host with the login the user's
// Docker config holds for it (credential helpers included); anonymous when
// there is none. Only the host asked about gets its own login.
type Keychain struct {
	o Options

	mu      sync.Mutex
	regions map[string]*regionToken
	masked  map[string]bool

	cfgOnce sync.Once
	cfg     *configfile.ConfigFile
	cfgErr  error
}

var _ build.Credentials = (*Keychain)(nil)

// regionToken is one region's ECR login, fetched once for all its hosts.
type regionToken struct {
	mu    sync.Mutex
	login registry.Login
}

// New returns a Keychain.
func New(o Options) *Keychain {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Keychain{o: o, regions: map[string]*regionToken{}, masked: map[string]bool{}}
}

// tokenMargin is how long an ECR token must still be valid to be handed
// out; an older one is fetched again.
const tokenMargin = 15 * time.Minute

// Credentials returns the login for host. An ECR host without a usable AWS
// login falls back to the Docker config, and fails when that has none.
func (k *Keychain) Credentials(ctx context.Context, host string) (build.Auth, error) {
	if region, ok := ECRRegion(host); ok && k.o.ECR != nil {
		a, err := k.ecrLogin(ctx, host, region)
		if err == nil {
			return k.hand(a), nil
		}
		if d, derr := k.dockerConfig(host); derr == nil && d.Password != "" {
			return k.hand(d), nil
		}
		return build.Auth{}, err
	}
	a, err := k.dockerConfig(host)
	if err != nil {
		return build.Auth{}, err
	}
	return k.hand(a), nil
}

// hand masks a password before it leaves the keychain.
func (k *Keychain) hand(a build.Auth) build.Auth {
	if a.Password == "" || k.o.Mask == nil {
		return a
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.masked[a.Password] {
		k.masked[a.Password] = true
		k.o.Mask(a.Password)
	}
	return a
}

// ecrLogin returns the region's token for host. A token opens every
// registry of its region the caller's IAM policy allows, so one is fetched
// per region, not per host.
func (k *Keychain) ecrLogin(ctx context.Context, host, region string) (build.Auth, error) {
	k.mu.Lock()
	rt := k.regions[region]
	if rt == nil {
		rt = &regionToken{}
		k.regions[region] = rt
	}
	k.mu.Unlock()

	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.login.Password == "" || (!rt.login.ExpiresAt.IsZero() && k.o.Now().Add(tokenMargin).After(rt.login.ExpiresAt)) {
		api, err := k.o.ECR(ctx, region)
		if err != nil {
			return build.Auth{}, fmt.Errorf("logging in to the ECR registry %s: %w", host, err)
		}
		l, err := ecr.New(api, "", "").Login(ctx)
		if err != nil {
			return build.Auth{}, fmt.Errorf("logging in to the ECR registry %s (region %s): %w", host, region, err)
		}
		rt.login = l
	}
	return build.Auth{Host: host, Username: rt.login.Username, Password: rt.login.Password}, nil
}

// dockerHub are the names Docker Hub goes by; its logins are kept under
// one key in the Docker config.
var dockerHub = map[string]bool{"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true}

const dockerHubKey = "https://index.docker.io/v1/"

// dockerConfig returns the login the Docker config holds for host, running
// its credential helper when it names one; a zero Auth when it holds none.
func (k *Keychain) dockerConfig(host string) (build.Auth, error) {
	k.cfgOnce.Do(func() {
		if k.o.DockerConfig == "" {
			k.cfg = configfile.New("")
			return
		}
		k.cfg, k.cfgErr = config.Load(k.o.DockerConfig)
	})
	if k.cfgErr != nil {
		return build.Auth{}, fmt.Errorf("reading the Docker config in %s: %w", k.o.DockerConfig, k.cfgErr)
	}
	key := host
	if dockerHub[host] {
		key = dockerHubKey
	}
	ac, err := k.cfg.GetAuthConfig(key)
	if err != nil {
		return build.Auth{}, fmt.Errorf("getting the login for %s from the Docker config's credential helper: %w", host, err)
	}
	switch {
	case ac.IdentityToken != "":
		// A refresh token (docker login to some registries): BuildKit
		// trades it for an access token, as it does for the docker CLI.
		return build.Auth{Host: host, Password: ac.IdentityToken}, nil
	case ac.Password != "":
		return build.Auth{Host: host, Username: ac.Username, Password: ac.Password}, nil
	}
	return build.Auth{}, nil
}

// ecrHost matches the host of a private ECR registry:
// <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn], and the dual-stack
// <account>.dkr-ecr[-fips].<region>.on.aws.
var ecrHost = regexp.MustCompile(`^[0-9]{12}\.(?:dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?|dkr-ecr(?:-fips)?\.([a-z0-9-]+)\.on\.aws)$`)

// ECRRegion returns the region of an ECR registry's host, and false for any
// other host.
func ECRRegion(host string) (string, bool) {
	m := ecrHost.FindStringSubmatch(host)
	if m == nil {
		return "", false
	}
	if m[1] != "" {
		return m[1], true
	}
	return m[2], true
}
