package bkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/org/ms-build-action/internal/build"
)

// secretAttachables serve o's build secrets and SSH sockets through the
// session, to RUN --mount=type=secret and --mount=type=ssh. The engine asks
// for a secret when a step mounts it and keeps it only in that step's
// tmpfs: it enters no layer, no history and no cache key. No error names a
// secret's value.
func secretAttachables(o build.Spec) ([]session.Attachable, error) {
	var out []session.Attachable
	if len(o.Secrets) > 0 {
		store, err := newSecretStore(o.Secrets)
		if err != nil {
			return nil, err
		}
		out = append(out, store)
	}
	if len(o.SSH) > 0 {
		a, err := sshAttachable(o.SSH)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// maxSecretSize is the most BuildKit takes a secret (secretsprovider's
// MaxSecretSize): the engine refuses a larger one.
const maxSecretSize = 500 * 1024

// secretStore answers the engine with a secret's value, or with its file's
// content read when the step asks (as docker build --secret src=... does).
// It serves BuildKit's secrets service itself: secretsprovider would add a
// module (tonistiigi/units) for a file store we do not use, and one service
// holds both kinds, as a session takes the service once.
type secretStore map[string]build.Secret

var (
	_ session.Attachable    = secretStore(nil)
	_ secrets.SecretsServer = secretStore(nil)
)

func (m secretStore) Register(s *grpc.Server) { secrets.RegisterSecretsServer(s, m) }

func newSecretStore(ss []build.Secret) (secretStore, error) {
	m := make(secretStore, len(ss))
	for _, s := range ss {
		if _, ok := m[s.ID]; ok {
			return nil, fmt.Errorf("build secret %s is given twice: give each secret once", s.ID)
		}
		if s.File != "" {
			// Checked now, so that a missing or oversized file fails the
			// run before anything is built.
			if _, err := readSecretFile(s); err != nil {
				return nil, err
			}
		} else if len(s.Value) > maxSecretSize {
			return nil, fmt.Errorf("build secret %s is %d bytes: BuildKit takes at most %d bytes a secret", s.ID, len(s.Value), maxSecretSize)
		}
		m[s.ID] = s
	}
	return m, nil
}

func (m secretStore) GetSecret(_ context.Context, req *secrets.GetSecretRequest) (*secrets.GetSecretResponse, error) {
	s, ok := m[req.ID]
	if !ok {
		// The engine reports "secret X: not found" for the step; a RUN
		// --mount=type=secret,required=false goes on without it.
		return nil, status.Errorf(codes.NotFound, "build secret %s was not given (secrets, secret-files or secret-envs)", req.ID)
	}
	v := s.Value
	if s.File != "" {
		var err error
		if v, err = readSecretFile(s); err != nil {
			return nil, status.Error(codes.FailedPrecondition, err.Error())
		}
	}
	return &secrets.GetSecretResponse{Data: v}, nil
}

// readSecretFile reads a secret file, at most BuildKit's limit.
func readSecretFile(s build.Secret) ([]byte, error) {
	f, err := os.Open(s.File)
	if err != nil {
		return nil, fmt.Errorf("reading build secret %s from %s: %w", s.ID, s.File, pathErr(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading build secret %s from %s: %w", s.ID, s.File, pathErr(err))
	}
	if len(b) > maxSecretSize {
		return nil, fmt.Errorf("build secret %s: %s is larger than %d bytes, the most BuildKit takes a secret", s.ID, s.File, maxSecretSize)
	}
	return b, nil
}

// pathErr is err without the path, which the message names already.
func pathErr(err error) error {
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// sshAttachable serves each SSH id: the agent at a socket (SSH_AUTH_SOCK
// unless a path is given) or an agent of its own holding the given private
// keys. The agent is read-only to the build: it can sign, not add or remove
// keys.
func sshAttachable(ss []build.SSH) (session.Attachable, error) {
	confs := make([]sshprovider.AgentConfig, 0, len(ss))
	for _, s := range ss {
		c := sshprovider.AgentConfig{ID: s.ID, Paths: s.Paths}
		// One at a time first, for a message that names the id and the
		// path at fault rather than BuildKit's chain of wrappings.
		for _, p := range s.Paths {
			if _, err := sshprovider.NewSSHAgentProvider([]sshprovider.AgentConfig{{ID: s.ID, Paths: []string{p}}}); err != nil {
				return nil, fmt.Errorf("ssh %s: %s is neither an SSH agent socket nor a private key without a passphrase (%v): give an agent's socket or an unencrypted key", s.ID, p, rootCause(err))
			}
		}
		if len(s.Paths) == 0 {
			if _, err := sshprovider.NewSSHAgentProvider([]sshprovider.AgentConfig{c}); err != nil {
				return nil, fmt.Errorf("ssh %s: no SSH agent to serve (%v): start one (ssh-agent) and set SSH_AUTH_SOCK, or give id=path to a key", s.ID, rootCause(err))
			}
		}
		confs = append(confs, c)
	}
	a, err := sshprovider.NewSSHAgentProvider(confs)
	if err != nil {
		return nil, fmt.Errorf("serving SSH to the build (%v): give each id one agent socket, or one or more keys, not both", rootCause(err))
	}
	return a, nil
}

// rootCause is the innermost error: BuildKit wraps each cause in phrases
// that repeat the configuration.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
