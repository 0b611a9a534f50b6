package bkit

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/moby/buildkit/session/auth"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/org/ms-build-action/internal/build"
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
