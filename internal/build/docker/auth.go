package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth"
	"github.com/moby/moby/api/types/registry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/dockerfile"
)

// authAttachable answers BuildKit's questions for registry logins (FROM,
// COPY --from, RUN --mount=from, cache sources) from o.Registries, through
// the session. nil when the build pulls anonymously.
func authAttachable(o build.Spec) session.Attachable {
	if o.Registries == nil {
		return nil
	}
	return &authServer{creds: o.Registries}
}

// authServer is BuildKit's auth service, answering only Credentials: the
// token-authority calls are left unimplemented, so that BuildKit fetches a
// registry's tokens itself with the basic credentials (it does so whenever
// GetTokenAuthority is unimplemented).
type authServer struct {
	auth.UnimplementedAuthServer
	creds build.Credentials
}

func (a *authServer) Register(s *grpc.Server) { auth.RegisterAuthServer(s, a) }

// Credentials gives BuildKit the login for the host it asks about, and
// nothing for another host's login. The answer is never logged.
func (a *authServer) Credentials(ctx context.Context, req *auth.CredentialsRequest) (*auth.CredentialsResponse, error) {
	c, err := a.creds.Credentials(ctx, req.Host)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	if c.Password == "" || (c.Host != "" && c.Host != req.Host) {
		return &auth.CredentialsResponse{}, nil
	}
	return &auth.CredentialsResponse{Username: c.Username, Secret: c.Password}, nil
}

// dockerHubHost is the host BuildKit asks about for Docker Hub images, and
// dockerHubKey the name Docker Hub's login goes by in X-Registry-Config.
const (
	dockerHubHost = "registry-1.docker.io"
	dockerHubKey  = "https://index.docker.io/v1/"
)

// registryConfig is the same logins for a build without a session (the tar
// fallback), sent as X-Registry-Config: the registries of the Dockerfile's
// base images and of the cache sources. BuildKit in the engine (20.10 and
// later) does not read them (only the legacy builder does), so pullBases
// pulls the bases that need a login first; a registry whose login cannot be
// had is left out.
func registryConfig(ctx context.Context, o build.Spec) map[string]registry.AuthConfig {
	if o.Registries == nil {
		return nil
	}
	out := map[string]registry.AuthConfig{}
	for _, ref := range append(baseRefs(o), o.CacheFrom...) {
		host := refHost(ref)
		key := host
		if host == dockerHubHost {
			key = dockerHubKey
		}
		if _, ok := out[key]; ok || host == "" {
			continue
		}
		c, err := login(ctx, o.Registries, host)
		if err != nil || c.Password == "" {
			continue
		}
		ac := registry.AuthConfig{Username: c.Username, Password: c.Password, ServerAddress: host}
		if c.Username == "" {
			ac = registry.AuthConfig{IdentityToken: c.Password, ServerAddress: host}
		}
		out[key] = ac
	}
	return out
}

// pullBases pulls into the engine's store, with their logins, the base
// images of a build without a session whose registries have a login: with
// no session BuildKit pulls anonymously, but it takes an image from the
// engine's store first. An image the engine has is pulled again only when
// o.Pull asks for it.
func (e *Engine) pullBases(ctx context.Context, o build.Spec) error {
	if o.Registries == nil {
		return nil
	}
	for _, ref := range baseRefs(o) {
		host := refHost(ref)
		if host == "" {
			continue
		}
		c, err := login(ctx, o.Registries, host)
		if err != nil {
			return fmt.Errorf("pulling base image %s: %w", ref, err)
		}
		if c.Password == "" {
			continue
		}
		if !o.Pull {
			if _, err := e.c.ImageInspect(ctx, ref); err == nil {
				continue
			}
		}
		if err := e.Pull(ctx, ref, build.Auth{Host: host, Username: c.Username, Password: c.Password}); err != nil {
			return explainRefusal(err)
		}
	}
	return nil
}

// login is the login for host, or none when the answer is for another host.
func login(ctx context.Context, creds build.Credentials, host string) (build.Auth, error) {
	c, err := creds.Credentials(ctx, host)
	if err != nil || (c.Host != "" && c.Host != host) {
		return build.Auth{}, err
	}
	return c, nil
}

// baseRefs are the image references the Dockerfile's stages start FROM
// (global ARGs expanded with the build's arguments), once each.
func baseRefs(o build.Spec) []string {
	if o.Context == nil {
		return nil
	}
	df, err := dockerfile.Parse(bytes.NewReader(o.Context.Dockerfile()), dockerfile.WithBuildArgs(o.BuildArgs))
	if err != nil {
		return nil
	}
	var refs []string
	seen := map[string]bool{}
	for _, s := range df.Stages {
		if s.Parent < 0 && s.Base != "scratch" && !seen[s.Base] {
			seen[s.Base] = true
			refs = append(refs, s.Base)
		}
	}
	return refs
}

// refHost is the registry host of an image reference as BuildKit names it
// when it asks for a login; "" when ref is not a reference.
func refHost(ref string) string {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	h := reference.Domain(n)
	if h == "docker.io" {
		return dockerHubHost
	}
	return h
}

// What the engine says when a registry refused a pull's login, or its lack
// of one: BuildKit names the image it was resolving ("load metadata for
// <ref>") and the status; a pull through the engine names the image and
// says unauthorized or denied.
var (
	refusedRef = regexp.MustCompile(`(?:load metadata for|failed to resolve source metadata for) (\S+?):?(?:\s|$)|^pulling (\S+): `)
	refusedMsg = regexp.MustCompile(`\b40[13]\b|(?i:unauthori[sz]ed|forbidden|denied|failed to authorize|no basic auth credentials|no active sessions)`)
	refusedAt  = regexp.MustCompile(`pulling from host (\S+) failed`)
)

// RegistryRefusedError is a build that failed because a registry refused
// the login (or the lack of one) for an image the build pulls.
type RegistryRefusedError struct {
	Host, Ref string
	Err       error // what the engine said
}

func (e *RegistryRefusedError) Error() string {
	return fmt.Sprintf("the registry %s refused the credentials for %s: check the Docker config (docker login) or, for ECR, the IAM permissions ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (%v)", e.Host, e.Ref, e.Err)
}

func (e *RegistryRefusedError) Unwrap() error { return e.Err }

// explainRefusal turns an error in which a registry refused a pull's login
// into a RegistryRefusedError that names the registry and what to check.
func explainRefusal(err error) error {
	var done *RegistryRefusedError
	if err == nil || errors.As(err, &done) {
		return err
	}
	msg := err.Error()
	m := refusedRef.FindStringSubmatch(msg)
	if m == nil || !refusedMsg.MatchString(msg) {
		return err
	}
	ref := m[1] + m[2]
	host := refHost(ref)
	if at := refusedAt.FindStringSubmatch(msg); at != nil {
		host = at[1]
	}
	if host == "" {
		return err
	}
	if host == dockerHubHost {
		host = "docker.io"
	}
	return &RegistryRefusedError{Host: host, Ref: ref, Err: err}
}
