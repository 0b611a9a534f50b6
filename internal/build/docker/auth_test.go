package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/session/auth"
	"github.com/moby/moby/api/types/registry"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/buildcontext"
)

// hosts answers for fixed hosts; an answer may name another host, as a
// wrong keychain could.
type hosts map[string]build.Auth

func (h hosts) Credentials(_ context.Context, host string) (build.Auth, error) {
	if host == "broken.example" {
		return build.Auth{}, errors.New("logging in to broken.example: no AWS credentials")
	}
	return h[host], nil
}

// TestAuthServerCredentials: BuildKit gets, for the host it asks about,
// that host's login and no other's; anonymous when there is none.
func TestAuthServerCredentials(t *testing.T) {
	t.Parallel()
	a := authAttachable(build.Spec{Registries: hosts{
		"a.example":     {Host: "a.example", Username: "ua", Password: "pa"},
		"b.example":     {Host: "b.example", Username: "ub", Password: "pb"},
		"own.example":   {Username: "AWS", Password: "token"}, // no host: for whoever asked
		"wrong.example": {Host: "a.example", Username: "ua", Password: "pa"},
	}}).(*authServer)
	for _, tc := range []struct {
		host       string
		user, pass string
	}{
		{"a.example", "ua", "pa"},
		{"b.example", "ub", "pb"},
		{"own.example", "AWS", "token"},
		{"wrong.example", "", ""},
		{"c.example", "", ""},
	} {
		got, err := a.Credentials(t.Context(), &auth.CredentialsRequest{Host: tc.host})
		if err != nil {
			t.Fatalf("Credentials(%s) = %v", tc.host, err)
		}
		if got.Username != tc.user || got.Secret != tc.pass {
			t.Errorf("Credentials(%s) = %q, %q, want %q, %q", tc.host, got.Username, got.Secret, tc.user, tc.pass)
		}
	}
	_, err := a.Credentials(t.Context(), &auth.CredentialsRequest{Host: "broken.example"})
	if !strings.Contains(status.Convert(err).Message(), "broken.example: no AWS credentials") {
		t.Errorf("Credentials(broken.example) = %v, want the keychain's error", err)
	}
	// The token-authority calls stay unimplemented: BuildKit then fetches
	// tokens itself with the basic credentials.
	_, err = a.GetTokenAuthority(t.Context(), &auth.GetTokenAuthorityRequest{Host: "a.example"})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("GetTokenAuthority() = %v, want Unimplemented", err)
	}
	if authAttachable(build.Spec{}) != nil {
		t.Error("authAttachable() without registries is not nil")
	}
}

// TestRegistryConfig: the tar fallback's logins are those of the base
// images' and cache sources' registries, Docker Hub under its config key.
func TestRegistryConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	df := "ARG BASE=a.example/team/base:1\nFROM ${BASE} AS build\nFROM busybox\nCOPY --from=build /x /x\nFROM scratch\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	bc, err := buildcontext.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	o := build.Spec{Context: bc, CacheFrom: []string{"b.example/team/app:cache"}, Registries: hosts{
		"a.example":            {Host: "a.example", Username: "ua", Password: "pa"},
		"b.example":            {Username: "", Password: "refresh"},
		"registry-1.docker.io": {Host: "registry-1.docker.io", Username: "hub", Password: "ph"},
		"c.example":            {Host: "c.example", Username: "uc", Password: "pc"},
	}}
	want := map[string]registry.AuthConfig{
		"a.example":                   {Username: "ua", Password: "pa", ServerAddress: "a.example"},
		"b.example":                   {IdentityToken: "refresh", ServerAddress: "b.example"},
		"https://index.docker.io/v1/": {Username: "hub", Password: "ph", ServerAddress: "registry-1.docker.io"},
	}
	if diff := cmp.Diff(want, registryConfig(t.Context(), o)); diff != "" {
		t.Errorf("registryConfig() (-want +got):\n%s", diff)
	}
	o.BuildArgs = map[string]string{"BASE": "c.example/other:2"}
	if got := registryConfig(t.Context(), o); got["c.example"].Password != "pc" || got["a.example"].Password != "" {
		t.Errorf("registryConfig() with BASE=c.example/... = %v, want c.example's login, not a.example's", got)
	}
}

// TestExplainRefusal: what the engine says of a refused pull becomes one
// line naming the registry and what to check; other errors stay as they are.
func TestExplainRefusal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		err       error
		host, ref string
	}{
		{"basic 401", &build.StepError{Step: "[internal] load metadata for 127.0.0.1:5000/team/app:base", Msg: "pulling from host 127.0.0.1:5000 failed with status code [manifests base]: 401 Unauthorized"}, "127.0.0.1:5000", "127.0.0.1:5000/team/app:base"},
		{"ecr 403", &build.StepError{Step: "[internal] load metadata for 123456789012.dkr.ecr.eu-west-1.amazonaws.com/base:1", Msg: "unexpected status from HEAD request to https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/base/manifests/1: 403 Forbidden"}, "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/base:1"},
		{"token", errors.New("building: failed to solve: failed to resolve source metadata for ghcr.io/org/base:1: failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized"), "ghcr.io", "ghcr.io/org/base:1"},
		{"docker hub", &build.StepError{Step: "[internal] load metadata for docker.io/library/private:1", Msg: "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"}, "docker.io", "docker.io/library/private:1"},
		{"no session", &build.StepError{Step: "[internal] load metadata for 127.0.0.1:5000/team/app:base", Msg: "no active sessions"}, "127.0.0.1:5000", "127.0.0.1:5000/team/app:base"},
		{"engine pull", errors.New("pulling 127.0.0.1:5000/team/app:base: Error response from daemon: unauthorized: authentication required"), "127.0.0.1:5000", "127.0.0.1:5000/team/app:base"},
		{"run step", &build.StepError{Step: "[build 2/3] RUN ./fetch", Msg: "pulling deps: 403 denied"}, "", ""},
		{"step failed", &build.StepError{Step: "[build 2/3] RUN make", Msg: "exit code: 2"}, "", ""},
		{"not found", &build.StepError{Step: "[internal] load metadata for 127.0.0.1:5000/team/app:base", Msg: "127.0.0.1:5000/team/app:base: not found"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := explainRefusal(tc.err)
			var re *RegistryRefusedError
			if !errors.As(err, &re) {
				if tc.host != "" {
					t.Fatalf("explainRefusal(%v) = %v, want a RegistryRefusedError", tc.err, err)
				}
				if err != tc.err {
					t.Errorf("explainRefusal(%v) = %v, want it unchanged", tc.err, err)
				}
				return
			}
			if re.Host != tc.host || re.Ref != tc.ref {
				t.Errorf("refused by %q for %q, want %q for %q", re.Host, re.Ref, tc.host, tc.ref)
			}
			if !errors.Is(err, tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("explainRefusal() = %q, want one line wrapping the engine's error", err)
			}
			var se *build.StepError
			if _, isStep := tc.err.(*build.StepError); isStep && !errors.As(err, &se) {
				t.Error("the StepError is lost")
			}
		})
	}
}
