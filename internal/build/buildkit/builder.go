package buildkit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/client"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/util/entitlements"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/bkit"
	"github.com/org/ms-build-action/internal/registry"
)

// TLS is the mTLS material for a tcp:// daemon, as PEM text. A zero TLS
// connects without TLS (a unix:// socket).
type TLS struct {
	CA, Cert, Key []byte
}

// Builder builds through a standalone BuildKit daemon with BuildKit's own
// client. The daemon keeps no named images: a build is exported as an image
// in its content store, and a push solves the same build again (every step
// and the export are cached then, so the image is the same) and exports it
// straight to the registry.
type Builder struct {
	c         *client.Client
	addr      string
	platforms []string // the platforms built; none: the daemon's own

	mu    sync.Mutex
	built map[string]built // by image id
}

// built is what a push needs to export an image again.
type built struct {
	spec   build.Spec
	config string // the config digest each export must give
}

// New connects to the daemon at addr (tcp://host:port or unix:///path).
// platforms are the platforms to build for; none builds the daemon's.
func New(ctx context.Context, addr string, t TLS, platforms []string) (*Builder, error) {
	var opts []client.ClientOpt
	if t.CA != nil || t.Cert != nil || t.Key != nil {
		cfg, err := tlsConfig(addr, t)
		if err != nil {
			return nil, err
		}
		opts = append(opts, client.WithGRPCDialOption(grpc.WithTransportCredentials(credentials.NewTLS(cfg))))
	}
	c, err := client.New(ctx, addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the BuildKit daemon at %s: %w", addr, err)
	}
	return &Builder{c: c, addr: addr, platforms: platforms, built: map[string]built{}}, nil
}

// tlsConfig checks the mTLS material: a CA to trust the daemon by (else the
// system's), and a client certificate with its key.
func tlsConfig(addr string, t TLS) (*tls.Config, error) {
	if u, err := url.Parse(addr); err != nil || u.Scheme != "tcp" {
		return nil, fmt.Errorf("buildkit-ca, buildkit-cert and buildkit-key are for a tcp:// builder, and %q is not one", addr)
	}
	// The server name is the address's host: gRPC takes it from there.
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != nil {
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(t.CA) {
			return nil, errors.New("buildkit-ca holds no PEM certificate: give the CA certificate that signed the daemon's")
		}
	}
	if (t.Cert == nil) != (t.Key == nil) {
		return nil, errors.New("buildkit-cert and buildkit-key go together: give both, or neither")
	}
	if t.Cert != nil {
		pair, err := tls.X509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("buildkit-cert and buildkit-key are not a certificate and its key (%v): give the PEM files the daemon's CA signed", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Close closes the connection.
func (b *Builder) Close() error { return b.c.Close() }

// Check makes sure the daemon answers, saying where it was looked for.
func (b *Builder) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := b.c.ListWorkers(ctx); err != nil {
		return fmt.Errorf("the BuildKit daemon at %s does not answer: check the builder address, that buildkitd runs there, and for tcp:// the certificates buildkit-ca, buildkit-cert and buildkit-key (%v)", b.addr, err)
	}
	return nil
}

// Platform is the platforms built (os/arch, comma-separated when several),
// which key caches: the daemon's first worker's, unless asked for others.
func (b *Builder) Platform(ctx context.Context) (string, error) {
	if len(b.platforms) > 0 {
		return strings.Join(b.platforms, ","), nil
	}
	ws, err := b.c.ListWorkers(ctx)
	if err != nil {
		return "", fmt.Errorf("asking the BuildKit daemon at %s for its platform: %w", b.addr, err)
	}
	if len(ws) == 0 || len(ws[0].Platforms) == 0 {
		return "", fmt.Errorf("the BuildKit daemon at %s has no worker: start it with a worker (buildkitd --oci-worker=true)", b.addr)
	}
	p := ws[0].Platforms[0]
	return p.OS + "/" + p.Architecture, nil
}

// ImportsCaches says that the daemon reads cache sources from their
// registry as it builds (pipeline.CacheImporter).
func (b *Builder) ImportsCaches() bool { return true }

// Name does nothing: the daemon keeps no named images.
func (b *Builder) Name(context.Context, string, string) error { return nil }

// Build builds one target, exports it as an image in the daemon's content
// store, and sizes it (the files of each platform's image).
func (b *Builder) Build(ctx context.Context, spec build.Spec, p build.Progress) (build.Image, error) {
	res, size, err := b.solve(ctx, spec, p, map[string]string{"push": "false"}, true)
	if err != nil {
		return build.Image{}, err
	}
	id := res[imageKey(len(b.platforms))]
	if id == "" {
		return build.Image{}, fmt.Errorf("the BuildKit daemon at %s reported no image for the build", b.addr)
	}
	b.mu.Lock()
	b.built[id] = built{spec: spec, config: id}
	b.mu.Unlock()
	return build.Image{ID: id, Size: size}, nil
}

// imageKey is the exporter's answer that names an image: its config for
// one platform, the index for several.
func imageKey(platforms int) string {
	if platforms > 1 {
		return "containerimage.digest"
	}
	return "containerimage.config.digest"
}

// Push exports a built image to ref with the registry's login: the build
// is solved again, all cached, and must give the same image (its config
// may carry another inline cache: see sameImage).
func (b *Builder) Push(ctx context.Context, imageID, ref string, auth build.Auth) (build.Pushed, error) {
	b.mu.Lock()
	bt, ok := b.built[imageID]
	b.mu.Unlock()
	if !ok {
		return build.Pushed{}, fmt.Errorf("pushing %s: the image %s was not built by this run", ref, imageID)
	}
	spec := bt.spec
	spec.Registries = withLogin{auth: auth, ref: ref, other: spec.Registries}
	res, _, err := b.solve(ctx, spec, nil, map[string]string{"push": "true", "name": ref}, false)
	if err != nil {
		return build.Pushed{}, fmt.Errorf("pushing %s: %w", ref, registry.Classify(err))
	}
	if got := res[imageKey(len(b.platforms))]; got != bt.config {
		same, err := b.sameImage(ctx, bt.config, got)
		if err != nil {
			return build.Pushed{}, fmt.Errorf("pushing %s: comparing the image exported (%s) with the image built (%s): %w", ref, got, bt.config, err)
		}
		if !same {
			return build.Pushed{}, fmt.Errorf("pushing %s: the daemon exported %s, not the image it built (%s): nothing is tagged; run again", ref, got, bt.config)
		}
	}
	var desc ocispecs.Descriptor
	raw, err := base64.StdEncoding.DecodeString(res["containerimage.descriptor"])
	if err == nil {
		err = json.Unmarshal(raw, &desc)
	}
	if err != nil || desc.Digest == "" {
		return build.Pushed{}, fmt.Errorf("pushing %s: the daemon reported no manifest", ref)
	}
	p := build.Pushed{Digest: desc.Digest.String(), Size: desc.Size}
	// The export for the push is a new one of the same solve, checked
	// above to differ at most in its inline cache: its id is reported.
	if got := res[imageKey(len(b.platforms))]; got != bt.config {
		p.ImageID = got
		b.mu.Lock()
		b.built[got] = bt
		b.mu.Unlock()
	}
	return p, nil
}

// solve runs one build through the gateway (the Dockerfile front end),
// exporting its image with the given attributes. With sized, the image's
// files are counted before the export.
func (b *Builder) solve(ctx context.Context, spec build.Spec, p build.Progress, export map[string]string, sized bool) (map[string]string, int64, error) {
	attach, err := bkit.Attachables(spec)
	if err != nil {
		return nil, 0, err
	}
	so, err := b.solveOpt(spec, attach, export)
	if err != nil {
		return nil, 0, err
	}
	req := gateway.SolveRequest{Frontend: "dockerfile.v0", FrontendOpt: frontendAttrs(spec, b.platforms)}
	var size int64
	status := make(chan *client.SolveStatus)
	done := make(chan struct{})
	steps := bkit.NewSteps(orQuiet(p))
	go func() {
		defer close(done)
		for st := range status {
			steps.Update(vertexes(st))
		}
	}()
	resp, err := b.c.Build(ctx, so, "ms-build", func(ctx context.Context, gw gateway.Client) (*gateway.Result, error) {
		res, err := gw.Solve(ctx, req)
		if err == nil && sized {
			size, err = imageSize(ctx, res)
		}
		return res, err
	}, status)
	<-done
	steps.Flush()
	if ctx.Err() != nil {
		return nil, 0, fmt.Errorf("building: %w", context.Cause(ctx))
	}
	if err != nil {
		return nil, 0, bkit.ResolveFault(bkit.ExplainRefusal(steps.Failed(err)))
	}
	return resp.ExporterResponse, size, nil
}

// solveOpt is a build's context, session and export.
func (b *Builder) solveOpt(spec build.Spec, attach []session.Attachable, export map[string]string) (client.SolveOpt, error) {
	dfFS, err := spec.Context.DockerfileFiles()
	if err != nil {
		return client.SolveOpt{}, fmt.Errorf("opening the Dockerfile's directory: %w", err)
	}
	attrs := map[string]string{"oci-mediatypes": "true"}
	for k, v := range export {
		attrs[k] = v
	}
	so := client.SolveOpt{
		LocalMounts: map[string]fsutil.FS{"context": spec.Context.Files(), "dockerfile": dfFS},
		// The same directory shares a key across runs, so the daemon can
		// ask only for the files that changed since its last build of it.
		SharedKey: "ms-build:" + spec.Context.Dir(),
		Session:   attach,
		Exports:   []client.ExportEntry{{Type: client.ExporterImage, Attrs: attrs}},
	}
	if spec.InlineCache {
		so.CacheExports = []client.CacheOptionsEntry{{Type: "inline"}}
	}
	if spec.Network == "host" {
		so.AllowedEntitlements = []string{string(entitlements.EntitlementNetworkHost)}
	}
	return so, nil
}

// frontendAttrs are the Dockerfile front end's options for spec.
func frontendAttrs(spec build.Spec, platforms []string) map[string]string {
	a := map[string]string{"filename": spec.Context.DockerfileName()}
	if i := strings.LastIndexByte(a["filename"], '/'); i >= 0 {
		a["filename"] = a["filename"][i+1:]
	}
	if spec.Target != "" {
		a["target"] = spec.Target
	}
	for k, v := range spec.BuildArgs {
		a["build-arg:"+k] = v
	}
	for k, v := range spec.Labels {
		a["label:"+k] = v
	}
	switch spec.Network {
	case "host", "none":
		a["force-network-mode"] = spec.Network
	}
	if spec.Pull {
		a["image-resolve-mode"] = "pull"
	}
	if spec.NoCache {
		a["no-cache"] = ""
	}
	if len(platforms) > 0 {
		a["platform"] = strings.Join(platforms, ",")
	}
	if len(spec.CacheFrom) > 0 {
		// The front end imports what it is told in its own options: images
		// with inline cache, in their registry.
		var in []client.CacheOptionsEntry
		for _, ref := range spec.CacheFrom {
			in = append(in, client.CacheOptionsEntry{Type: "registry", Attrs: map[string]string{"ref": ref}})
		}
		b, _ := json.Marshal(in) // strings only: it cannot fail
		a["cache-imports"] = string(b)
	}
	return a
}

// vertexes are a status's vertexes and logs, as the step tracker takes
// them.
func vertexes(st *client.SolveStatus) ([]bkit.Vertex, []bkit.VertexLog) {
	vs := make([]bkit.Vertex, 0, len(st.Vertexes))
	for _, v := range st.Vertexes {
		x := bkit.Vertex{Digest: v.Digest.String(), Name: v.Name, Error: v.Error, Cached: v.Cached}
		if v.Started != nil {
			x.Started = *v.Started
		}
		if v.Completed != nil {
			x.Completed = *v.Completed
		}
		vs = append(vs, x)
	}
	ls := make([]bkit.VertexLog, 0, len(st.Logs))
	for _, l := range st.Logs {
		ls = append(ls, bkit.VertexLog{Vertex: l.Vertex.String(), Msg: l.Data})
	}
	return vs, ls
}

type quiet struct{}

func (quiet) StepStarted(build.Step) {}
func (quiet) StepDone(build.Step)    {}

func orQuiet(p build.Progress) build.Progress {
	if p == nil {
		return quiet{}
	}
	return p
}
