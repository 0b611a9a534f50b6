package docker_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/moby/moby/client"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/bkit"
	"github.com/org/ms-build-action/internal/build/docker"
	"github.com/org/ms-build-action/internal/keychain"
	"github.com/org/ms-build-action/internal/testenv"
)

// logins answers for fixed hosts, and records what was asked.
type logins struct {
	mu    sync.Mutex
	by    map[string]build.Auth
	asked []string
}

func (l *logins) Credentials(_ context.Context, host string) (build.Auth, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, host)
	return l.by[host], nil
}

func pushBase(t *testing.T, ref string, a authn.Authenticator) string {
	t.Helper()
	return testenv.PushBase(t, ref, a)
}

// privateBuild builds FROM base under a name of the test's own and returns
// the image's name and the build's error.
func privateBuild(t *testing.T, e *docker.Engine, c *client.Client, base string, regs build.Credentials) (string, error) {
	t.Helper()
	bc, _ := openContext(t, "FROM "+base+"\nRUN cat /marker.txt > /copied.txt\n")
	tag := "msb-auth-test/" + strings.ToLower(rand.Text()) + ":built"
	t.Cleanup(func() {
		c.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
		// The tar fallback pulls the base into the engine's store.
		c.ImageRemove(context.Background(), base, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	_, err := e.Build(t.Context(), build.Spec{Context: bc, Tags: []string{tag}, Network: "none", Registries: regs}, &testenv.Steps{})
	return tag, err
}

// TestIntegrationPrivateBaseECR: a base image that lives only in a registry
// that demands the ECR token (the engine has never seen it) builds, through
// the session's auth service and, without a session, through a pull with
// the login first. Only the registry asked about is asked for.
func TestIntegrationPrivateBaseECR(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []docker.EngineOption
	}{
		{"session", nil},
		{"tar", []docker.EngineOption{docker.WithTarContext()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, c := engine(t, tc.opts...)
			ecrReg, login := ready(t)
			base := ecrReg.Registry + "/team/app:base-" + strings.ToLower(rand.Text())
			marker := pushBase(t, base, authn.FromConfig(authn.AuthConfig{Username: login.Username, Password: login.Password}))
			if _, err := c.ImageInspect(t.Context(), base); err == nil {
				t.Fatalf("the engine has %s before the build", base)
			}
			regs := &logins{by: map[string]build.Auth{ecrReg.Registry: login.Auth}}
			tag, err := privateBuild(t, e, c, base, regs)
			if err != nil {
				t.Fatalf("Build() = %v", err)
			}
			for _, h := range regs.asked {
				if h != ecrReg.Registry {
					t.Errorf("the build asked for the login of %s, want only %s", h, ecrReg.Registry)
				}
			}
			if out, code := testenv.Run(t, c, tag, "cat", "/copied.txt"); code != 0 || out != marker {
				t.Errorf("the image's /copied.txt = %q (exit %d), want the base's marker %q", out, code, marker)
			}
		})
	}
}

// htpasswdRegistry serves a distribution/v3 registry with its own user and
// password on loopback and returns its host.
func htpasswdRegistry(t *testing.T, user, password string) string {
	t.Helper()
	h, _ := testenv.Distribution(t, user, password)
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// dockerConfig writes a Docker config directory holding one login, as
// docker login writes it.
func dockerConfig(t *testing.T, host, user, password string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := `{"auths": {"` + host + `": {"auth": "` + base64.StdEncoding.EncodeToString([]byte(user+":"+password)) + `"}}}`
	must(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600))
	return dir
}

// TestIntegrationPrivateBaseDockerConfig: a base image in a second registry,
// with its own user and password given through a Docker config file, builds
// through the keychain, beside an ECR registry the keychain does not answer
// for.
func TestIntegrationPrivateBaseDockerConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []docker.EngineOption
	}{
		{"session", nil},
		{"tar", []docker.EngineOption{docker.WithTarContext()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, c := engine(t, tc.opts...)
			user, password := "ci-"+strings.ToLower(rand.Text()[:6]), rand.Text()
			host := htpasswdRegistry(t, user, password)
			base := host + "/private/base:" + strings.ToLower(rand.Text())
			marker := pushBase(t, base, authn.FromConfig(authn.AuthConfig{Username: user, Password: password}))

			var masked []string
			kc := keychain.New(keychain.Options{DockerConfig: dockerConfig(t, host, user, password), Mask: func(s string) { masked = append(masked, s) }})
			tag, err := privateBuild(t, e, c, base, kc)
			if err != nil {
				t.Fatalf("Build() = %v", err)
			}
			if out, code := testenv.Run(t, c, tag, "cat", "/copied.txt"); code != 0 || out != marker {
				t.Errorf("the image's /copied.txt = %q (exit %d), want the base's marker %q", out, code, marker)
			}
			if len(masked) != 1 || masked[0] != password {
				t.Errorf("masked %d values, want the registry's password once", len(masked))
			}
		})
	}
}

// TestIntegrationPrivateBaseRefused: a wrong or a missing login fails the
// build with one line that names the registry and what to check, and holds
// no secret.
func TestIntegrationPrivateBaseRefused(t *testing.T) {
	t.Parallel()
	const wrong = "not-the-token-b6f1c2"
	for _, tc := range []struct {
		name string
		auth func(host string) build.Auth
		opts []docker.EngineOption
	}{
		{"wrong", func(h string) build.Auth { return build.Auth{Host: h, Username: "AWS", Password: wrong} }, nil},
		{"missing", func(string) build.Auth { return build.Auth{} }, nil},
		{"wrong tar", func(h string) build.Auth { return build.Auth{Host: h, Username: "AWS", Password: wrong} }, []docker.EngineOption{docker.WithTarContext()}},
		{"missing tar", func(string) build.Auth { return build.Auth{} }, []docker.EngineOption{docker.WithTarContext()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, c := engine(t, tc.opts...)
			ecrReg, login := ready(t)
			base := ecrReg.Registry + "/team/app:base-" + strings.ToLower(rand.Text())
			pushBase(t, base, authn.FromConfig(authn.AuthConfig{Username: login.Username, Password: login.Password}))
			_, err := privateBuild(t, e, c, base, &logins{by: map[string]build.Auth{ecrReg.Registry: tc.auth(ecrReg.Registry)}})
			var re *bkit.RegistryRefusedError
			if !errors.As(err, &re) {
				t.Fatalf("Build() = %v, want a RegistryRefusedError", err)
			}
			msg := err.Error()
			t.Logf("Build() = %s", msg)
			if re.Host != ecrReg.Registry || re.Ref != base {
				t.Errorf("refused by %s for %s, want %s for %s", re.Host, re.Ref, ecrReg.Registry, base)
			}
			for _, want := range []string{"the registry " + ecrReg.Registry + " refused the credentials for " + base, "docker login", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, wrong) || strings.Contains(msg, login.Password) {
				t.Errorf("error %q is not one line without a secret", msg)
			}
		})
	}
}
