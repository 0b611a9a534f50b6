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
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// Local is a registry running in this process on a loopback port:
// go-containerregistry's, with blobs on disk (a BlobStore, so an upload is
// streamed to disk, never held in memory). Started on a directory of the
// caller's, it keeps its manifests there too, so a registry started again on
// the directory serves what the last one stored; one process at a time may
// use a directory. On a temporary directory, everything is gone when it
// stops.
type Local struct {
	host    string
	srv     *http.Server
	serving sync.WaitGroup
	tempDir string   // removed by Close; "" when the caller chose the directory
	lock    *os.File // held on the caller's directory while the registry runs
	journal *journal // the manifests, on the caller's directory
	close   func() error
}

// ErrInUse is Start finding its directory used by another registry.
var ErrInUse = errors.New("the registry's directory is in use by another process")

// Start runs a registry on 127.0.0.1 that keeps blobs and manifests in dir,
// or in a temporary directory that Close removes when dir is "". On dir, it
// listens on the port it listened on last when that port is free, so that
// references it gave out stay true. ctx bounds the start only.
func Start(ctx context.Context, dir string) (*Local, error) {
	l := &Local{}
	if err := l.open(dir); err != nil {
		l.release()
		return nil, fmt.Errorf("starting a local registry: %w", err)
	}
	if dir == "" {
		dir = l.tempDir
	}
	store, err := NewBlobStore(dir)
	if err != nil {
		l.release()
		return nil, fmt.Errorf("starting a local registry: %w", err)
	}
	quiet := log.New(io.Discard, "", 0)
	var h http.Handler = store.Uploads(ggcrregistry.New(
		ggcrregistry.Logger(quiet),
		ggcrregistry.WithBlobHandler(store),
	))
	if l.journal != nil {
		if err := l.journal.replay(h); err != nil {
			l.release()
			return nil, fmt.Errorf("starting a local registry on %s (remove the directory to start afresh): %w", dir, err)
		}
		h = l.journal.record(h)
	}
	ln, err := listen(ctx, dir, l.journal != nil)
	if err != nil {
		l.release()
		return nil, fmt.Errorf("starting a local registry: %w", err)
	}
	l.host = ln.Addr().String()
	l.srv = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: quiet}
	l.serving.Add(1)
	go func() {
		defer l.serving.Done()
		_ = l.srv.Serve(ln) // ErrServerClosed once Close runs
	}()
	l.close = sync.OnceValue(l.shutdown)
	return l, nil
}

// open makes or locks the registry's directory and reads its manifests.
func (l *Local) open(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "ociregistry-")
		if err != nil {
			return fmt.Errorf("creating its blob directory: %w", err)
		}
		l.tempDir = d
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating its directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("locking its directory: %w", err)
	}
	l.lock = f
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("%s: %w", dir, ErrInUse)
	}
	l.journal, err = openJournal(dir)
	return err
}

// listen listens on a loopback port: on a kept directory, the one it used
// last when it is free.
func listen(ctx context.Context, dir string, keep bool) (net.Listener, error) {
	var lc net.ListenConfig
	portFile := filepath.Join(dir, "port")
	if keep {
		if b, err := os.ReadFile(portFile); err == nil {
			if ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:"+strings.TrimSpace(string(b))); err == nil {
				return ln, nil
			}
		}
	}
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err == nil && keep {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		_ = os.WriteFile(portFile, []byte(port+"\n"), 0o600) // only a preference
	}
	return ln, err
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
	if l.journal != nil {
		err = errors.Join(err, l.journal.failed())
	}
	err = errors.Join(err, l.release())
	if err != nil {
		return fmt.Errorf("closing the local registry %s: %w", l.host, err)
	}
	return nil
}

// release unlocks the caller's directory, or removes the temporary one.
func (l *Local) release() error {
	if l.lock != nil {
		l.lock.Close() // and with it the lock
	}
	if l.tempDir == "" {
		return nil
	}
	if err := os.RemoveAll(l.tempDir); err != nil {
		return fmt.Errorf("removing its blob directory: %w", err)
	}
	return nil
}
