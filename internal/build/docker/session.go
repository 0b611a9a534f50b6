package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/filesync"

	"github.com/org/ms-build-action/internal/buildcontext"
)

// The context reaches BuildKit in one of two ways. Over a BuildKit session
// (as the docker CLI sends it), the engine keeps the files of the previous
// build of the same directory and asks only for what changed; on a warm
// engine this is what makes a build as quick as the CLI's (the whole context
// is not sent and hashed again). The session needs the engine's /session
// upgrade; where it cannot be had (a proxy that refuses the upgrade), the
// context goes as a tar body instead, as the Engine API has always taken it.

// sessionDialTimeout bounds the wait for the engine to take the session.
const sessionDialTimeout = 10 * time.Second

// contextSession is an open session that serves one build's context.
type contextSession struct {
	s          *session.Session
	dockerfile string // the Dockerfile's name in the session's "dockerfile" directory
}

func (cs *contextSession) Close() error { return cs.s.Close() }

// startSession opens a session that serves the context (c.Files: the files
// the tar and the cache keys see too), the Dockerfile's directory and the
// other attachables (registry logins, secrets, SSH), and returns once the
// engine has taken it.
func (e *Engine) startSession(ctx context.Context, c *buildcontext.Context, attach []session.Attachable) (*contextSession, error) {
	// The same directory shares a key across runs, so the engine can send
	// only the changes since its last build of it.
	sum := sha256.Sum256([]byte("ms-build:" + c.Dir()))
	s, err := session.NewSession(ctx, hex.EncodeToString(sum[:]))
	if err != nil {
		return nil, fmt.Errorf("starting a build session: %w", err)
	}
	dfFS, err := c.DockerfileFiles()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("opening the Dockerfile's directory: %w", err)
	}
	s.Allow(filesync.NewFSSyncProvider(filesync.StaticDirSource{"context": c.Files(), "dockerfile": dfFS}))
	for _, a := range attach {
		s.Allow(a)
	}

	dialed := make(chan error, 1)
	go s.Run(context.WithoutCancel(ctx), func(ctx context.Context, proto string, meta map[string][]string) (net.Conn, error) {
		conn, err := e.c.DialHijack(ctx, "/session", proto, meta)
		dialed <- err
		return conn, err
	})
	select {
	case err = <-dialed:
	case <-time.After(sessionDialTimeout):
		err = errors.New("the engine did not take the session in time")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("opening a build session with the engine: %w", err)
	}
	return &contextSession{s: s, dockerfile: filepath.Base(c.DockerfilePath())}, nil
}
