package ociregistry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// Local is a registry running in this process on a loopback port:
// go-containerregistry's, with blobs on disk (a BlobStore, so an upload is
// streamed to disk, never held in memory) and manifests in memory (they are
// gone when it stops).
type Local struct {
	host    string
	srv     *http.Server
	serving sync.WaitGroup
	tempDir string // removed by Close; "" when the caller chose the directory
	close   func() error
}

// Start runs a registry on 127.0.0.1 that keeps blobs in dir, or in a
// temporary directory that Close removes when dir is "". ctx bounds the
// start only.
func Start(ctx context.Context, dir string) (*Local, error) {
	l := &Local{}
	if dir == "" {
		d, err := os.MkdirTemp("", "ociregistry-")
		if err != nil {
			return nil, fmt.Errorf("starting a local registry: creating its blob directory: %w", err)
		}
		dir, l.tempDir = d, d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("starting a local registry: creating its blob directory: %w", err)
	}
	store, err := NewBlobStore(dir)
	if err != nil {
		l.removeTemp()
		return nil, fmt.Errorf("starting a local registry: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		l.removeTemp()
		return nil, fmt.Errorf("starting a local registry: %w", err)
	}
	quiet := log.New(io.Discard, "", 0)
	l.host = ln.Addr().String()
	l.srv = &http.Server{
		Handler: store.Uploads(ggcrregistry.New(
			ggcrregistry.Logger(quiet),
			ggcrregistry.WithBlobHandler(store),
		)),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          quiet,
	}
	l.serving.Add(1)
	go func() {
		defer l.serving.Done()
		_ = l.srv.Serve(ln) // ErrServerClosed once Close runs
	}()
	l.close = sync.OnceValue(l.shutdown)
	return l, nil
}

// Host is the registry's host:port, for references (host/repository:tag).
func (l *Local) Host() string { return l.host }

// Close stops the registry, dropping its connections, and removes a
// temporary blob directory. It may be called more than once.
func (l *Local) Close() error { return l.close() }

func (l *Local) shutdown() error {
	// Close, not Shutdown: a client that keeps a connection open (an engine
	// mid-push) must not hold the run's end up.
	err := l.srv.Close()
	l.serving.Wait()
	if rerr := l.removeTemp(); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("closing the local registry %s: %w", l.host, err)
	}
	return nil
}

func (l *Local) removeTemp() error {
	if l.tempDir == "" {
		return nil
	}
	if err := os.RemoveAll(l.tempDir); err != nil {
		return fmt.Errorf("removing its blob directory: %w", err)
	}
	return nil
}
