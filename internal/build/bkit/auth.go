package bkit

import (
	"context"

	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/org/ms-build-action/internal/build"
)

// Attachables are what a build's session serves beside its context:
// registry logins, build secrets and SSH.
func Attachables(o build.Spec) ([]session.Attachable, error) {
	var out []session.Attachable
	if a := authAttachable(o); a != nil {
		out = append(out, a)
	}
	s, err := secretAttachables(o)
	if err != nil {
		return nil, err
	}
	return append(out, s...), nil
}

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
