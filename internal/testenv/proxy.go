package testenv

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// EngineProxy is a unix socket in front of the engine DOCKER_HOST names,
// which a test can cut: the engine going away under a run.
type EngineProxy struct {
	Host string // for DOCKER_HOST

	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

// NewEngineProxy starts a proxy to the engine; it stops when the test ends.
func NewEngineProxy(t testing.TB) *EngineProxy {
	t.Helper()
	target := strings.TrimPrefix(os.Getenv("DOCKER_HOST"), "unix://")
	if target == "" || strings.Contains(target, "://") {
		t.Skip("the engine proxy needs DOCKER_HOST to be a unix socket")
	}
	path := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	p := &EngineProxy{Host: "unix://" + path, ln: ln}
	t.Cleanup(p.Cut)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				up.Close()
				return
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

// Cut closes the socket and every connection through it: the engine is gone.
func (p *EngineProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return
	}
	p.cut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}
