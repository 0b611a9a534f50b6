package ecrlocal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/org/ms-build-action/internal/ociregistry"
)

// Local is an ECR endpoint and a registry behind its gate, running in this process on loopback.
type Local struct {
	// Endpoint is the ECR API's URL, for the SDK's BaseEndpoint or AWS_ENDPOINT_URL_ECR.
	Endpoint string
	// Registry is the registry's host:port, as proxyEndpoint names it without its scheme.
	Registry string
	// AccessKeyID, SecretAccessKey and Region are what a client must sign requests with.
	AccessKeyID     string
	SecretAccessKey string
	Region          string
	// RegistryID is the account id that owns the registry.
	RegistryID string
	// Server is the endpoint and gate, for tests that need them directly.
	Server *Server

	dir     string
	servers []*http.Server
	fresh   connTracker
	serving sync.WaitGroup
	close   func() error
}

// Option changes how Start composes the endpoint and the registry.
type Option func(*startOptions)

type startOptions struct {
	wrapEndpoint func(http.Handler) http.Handler
	wrapRegistry func(http.Handler) http.Handler
}

// WrapEndpoint puts wrap around the ECR API handler, e.g. to inject faults.
func WrapEndpoint(wrap func(http.Handler) http.Handler) Option {
	return func(o *startOptions) { o.wrapEndpoint = wrap }
}

// WrapRegistry puts wrap around the registry as its clients reach it (gate included).
func WrapRegistry(wrap func(http.Handler) http.Handler) Option {
	return func(o *startOptions) { o.wrapRegistry = wrap }
}

// Start runs an ECR endpoint and a go-containerregistry registry behind the gate, each on its own
// 127.0.0.1:0 listener. Blobs are kept in a temporary directory that Close removes. cfg.RegistryURL
// must be empty (Start sets it); credentials are generated when empty, the region defaults to
// us-east-1. ctx bounds the start only.
func Start(ctx context.Context, cfg Config, opts ...Option) (*Local, error) {
	var o startOptions
	for _, opt := range opts {
		opt(&o)
	}
	if cfg.RegistryURL != "" {
		return nil, errors.New("starting local ECR: RegistryURL is set by Start and must be empty")
	}
	var err error
	if cfg.AccessKeyID == "" {
		if cfg.AccessKeyID, err = randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"); err != nil {
			return nil, fmt.Errorf("starting local ECR: %w", err)
		}
		cfg.AccessKeyID = "AKIA" + cfg.AccessKeyID
	}
	if cfg.SecretAccessKey == "" {
		var b [30]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("starting local ECR: generating secret: %w", err)
		}
		cfg.SecretAccessKey = base64.StdEncoding.EncodeToString(b[:])
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}

	l := &Local{}
	var lc net.ListenConfig
	endpointLn, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting local ECR: listening for the endpoint: %w", err)
	}
	registryLn, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		endpointLn.Close()
		return nil, fmt.Errorf("starting local ECR: listening for the registry: %w", err)
	}
	cleanup := func() {
		endpointLn.Close()
		registryLn.Close()
		if l.dir != "" {
			os.RemoveAll(l.dir)
		}
	}
	cfg.RegistryURL = "http://" + registryLn.Addr().String()
	s, err := New(cfg)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("starting local ECR: %w", err)
	}
	if l.dir, err = os.MkdirTemp("", "ecrlocal-"); err != nil {
		cleanup()
		return nil, fmt.Errorf("starting local ECR: creating blob directory: %w", err)
	}
	store, err := ociregistry.NewBlobStore(l.dir)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("starting local ECR: %w", err)
	}
	quiet := log.New(io.Discard, "", 0)
	var registry http.Handler = s.Gate(store.Uploads(ggcrregistry.New(
		ggcrregistry.Logger(quiet),
		ggcrregistry.WithBlobHandler(store),
		ggcrregistry.WithReferrersSupport(true),
	)))
	var endpoint http.Handler = s.Handler()
	if o.wrapRegistry != nil {
		registry = o.wrapRegistry(registry)
	}
	if o.wrapEndpoint != nil {
		endpoint = o.wrapEndpoint(endpoint)
	}

	*l = Local{
		Endpoint:        "http://" + endpointLn.Addr().String(),
		Registry:        registryLn.Addr().String(),
		AccessKeyID:     cfg.AccessKeyID,
		SecretAccessKey: cfg.SecretAccessKey,
		Region:          cfg.Region,
		RegistryID:      s.RegistryID(),
		Server:          s,
		dir:             l.dir,
	}
	for _, pair := range []struct {
		ln net.Listener
		h  http.Handler
	}{{endpointLn, endpoint}, {registryLn, registry}} {
		srv := &http.Server{Handler: pair.h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: quiet, ConnState: l.fresh.track}
		l.servers = append(l.servers, srv)
		l.serving.Add(1)
		go func() {
			defer l.serving.Done()
			_ = srv.Serve(pair.ln)
		}()
	}
	l.close = sync.OnceValue(l.shutdown)
	return l, nil
}

// Close stops both servers and removes the blob directory. It may be called more than once.
func (l *Local) Close() error { return l.close() }

func (l *Local) shutdown() error {
	var errs []error
	for _, srv := range l.servers {
		// Shutdown waits for connections to go idle, and counts a connection that never sent a
		// request (clients dial spares) as busy for five seconds: close those first.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := srv.Shutdown(ctx)
		cancel()
		if err != nil {
			l.fresh.closeAll()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				errs = append(errs, srv.Close())
			}
			cancel()
		}
	}
	l.serving.Wait()
	if err := os.RemoveAll(l.dir); err != nil {
		errs = append(errs, fmt.Errorf("removing blob directory: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing local ECR: %w", err)
	}
	return nil
}

// connTracker knows the connections that have not sent a request yet.
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (t *connTracker) track(c net.Conn, state http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns == nil {
		t.conns = map[net.Conn]struct{}{}
	}
	if state == http.StateNew {
		t.conns[c] = struct{}{}
	} else {
		delete(t.conns, c)
	}
}

func (t *connTracker) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		_ = c.Close()
	}
}

func randomString(n int, alphabet string) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating access key id: %w", err)
	}
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return sb.String(), nil
}
