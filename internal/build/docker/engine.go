package docker

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/session"
	"github.com/moby/moby/api/pkg/authconfig"
	dockerbuild "github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/bkit"
	"github.com/org/ms-build-action/internal/buildcontext"
	registrykind "github.com/org/ms-build-action/internal/registry"
)

// Client is the part of the Docker Engine API client the build package uses,
// with the exact signatures of github.com/moby/moby/client.
type Client interface {
	DialHijack(ctx context.Context, url, proto string, meta map[string][]string) (net.Conn, error)
	DaemonHost() string
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	ImageBuild(ctx context.Context, buildContext io.Reader, options client.ImageBuildOptions) (client.ImageBuildResult, error)
	BuildCancel(ctx context.Context, id string, options client.BuildCancelOptions) (client.BuildCancelResult, error)
	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageTag(ctx context.Context, options client.ImageTagOptions) (client.ImageTagResult, error)
	ImagePush(ctx context.Context, image string, options client.ImagePushOptions) (client.ImagePushResponse, error)
	ImagePull(ctx context.Context, ref string, options client.ImagePullOptions) (client.ImagePullResponse, error)
	ImageRemove(ctx context.Context, imageID string, options client.ImageRemoveOptions) (client.ImageRemoveResult, error)
	DistributionInspect(ctx context.Context, imageRef string, options client.DistributionInspectOptions) (client.DistributionInspectResult, error)
}

var _ Client = (*client.Client)(nil)

// Engine builds, tags and pushes images through a Docker engine, always with
// BuildKit.
type Engine struct {
	c Client

	mu        sync.Mutex
	tarOnly   bool   // send contexts as tar bodies, never over a session
	noSession error  // why a session could not be had, once it could not
	platform  string // the platform to build for; "" is the engine's
}

// EngineOption changes an Engine.
type EngineOption func(*Engine)

// WithTarContext sends build contexts as tar bodies instead of over a
// BuildKit session (for engines behind a proxy that refuses the session's
// upgrade).
func WithTarContext() EngineOption { return func(e *Engine) { e.tarOnly = true } }

// WithPlatform builds for platform (os/arch[/variant]) rather than the
// engine's own: another architecture runs under emulation (QEMU).
func WithPlatform(platform string) EngineOption { return func(e *Engine) { e.platform = platform } }

// NewEngine returns an Engine over the given client.
func NewEngine(c Client, opts ...EngineOption) *Engine {
	e := &Engine{c: c}
	for _, o := range opts {
		o(e)
	}
	return e
}

// ContextTransfer says how build contexts reach the engine: "session" or
// "tar" (and why, when a session could not be had).
func (e *Engine) ContextTransfer() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.tarOnly:
		return "tar"
	case e.noSession != nil:
		return "tar (" + e.noSession.Error() + ")"
	}
	return "session"
}

// Check makes sure the engine answers, saying where it was looked for and
// what to do when it does not.
func (e *Engine) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := e.c.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("the Docker engine at %s does not answer: start it, or set DOCKER_HOST to its socket (%v)", e.c.DaemonHost(), err)
	}
	return nil
}

// Platform returns the platform built (os/arch): the engine's, unless
// another was asked for. It keys caches.
func (e *Engine) Platform(ctx context.Context) (string, error) {
	if e.platform != "" {
		return e.platform, nil
	}
	res, err := e.c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", fmt.Errorf("asking the engine for its platform: %w", err)
	}
	info := res.Info
	return info.OSType + "/" + info.Architecture, nil
}

// Build runs one BuildKit build and reads its stream to the end. The build is
// cancelled in the engine when ctx is.
func (e *Engine) Build(ctx context.Context, o build.Spec, p build.Progress) (build.Image, error) {
	id := "msb-" + rand.Text()
	bo := buildOptions(o, id)
	var body io.Reader
	attach, err := bkit.Attachables(o)
	if err != nil {
		return build.Image{}, err
	}
	if bo.Platforms, err = e.platforms(); err != nil {
		return build.Image{}, err
	}
	if sess := e.session(ctx, o.Context, attach); sess != nil {
		defer sess.Close()
		bo.SessionID, bo.RemoteContext, bo.Dockerfile = sess.s.ID(), "client-session", sess.dockerfile
	} else {
		if len(o.Secrets) > 0 || len(o.SSH) > 0 {
			return build.Image{}, fmt.Errorf("build secrets and SSH reach the build only over a BuildKit session, which the engine at %s did not take (%s): unset MSB_CONTEXT=tar, or reach the engine without a proxy that refuses the session's upgrade", e.c.DaemonHost(), e.ContextTransfer())
		}
		bo.AuthConfigs = registryConfig(ctx, o)
		if err := e.pullBases(ctx, o); err != nil {
			return build.Image{}, err
		}
		tar, err := o.Context.Tar()
		if err != nil {
			return build.Image{}, fmt.Errorf("packing the build context: %w", err)
		}
		defer tar.Close()
		body = tar
	}
	resp, err := e.c.ImageBuild(ctx, body, bo)
	if err != nil {
		return build.Image{}, fmt.Errorf("starting the build: %w", err)
	}
	defer resp.Body.Close()

	// Closing the body alone leaves BuildKit running in the engine: cancel
	// the build there too.
	stop := context.AfterFunc(ctx, func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		_, _ = e.c.BuildCancel(cctx, id, client.BuildCancelOptions{})
		resp.Body.Close()
	})
	defer stop()

	imageID, err := decodeBuild(resp.Body, p)
	if ctx.Err() != nil {
		return build.Image{}, fmt.Errorf("building: %w", context.Cause(ctx))
	}
	var se *build.StepError
	if err != nil && !errors.As(err, &se) && e.Check(ctx) != nil {
		return build.Image{}, fmt.Errorf("the Docker engine at %s went away during the build: nothing was pushed; check the engine and run again (%v)", e.c.DaemonHost(), err)
	}
	if err != nil {
		return build.Image{}, bkit.ResolveFault(bkit.ExplainRefusal(noBridge(err)))
	}
	return e.Inspect(ctx, imageID)
}

// platforms is the platform asked for, as the build options take it; none
// builds the engine's own.
func (e *Engine) platforms() ([]ocispec.Platform, error) {
	if e.platform == "" {
		return nil, nil
	}
	p, err := platforms.Parse(e.platform)
	if err != nil {
		return nil, fmt.Errorf("platform %q: %w", e.platform, err)
	}
	return []ocispec.Platform{p}, nil
}

// noBridge tells a step that failed for want of the engine's bridge
// network (dockerd --bridge=none and a RUN step on the default network) as
// build.ErrNoBridge: the engine's fault, not the step's.
func noBridge(err error) error {
	var se *build.StepError
	if errors.As(err, &se) && strings.Contains(se.Msg, "network bridge not found") {
		return build.ErrNoBridge
	}
	return err
}

// buildOptions are the Engine API's options for one build of o.
func buildOptions(o build.Spec, id string) client.ImageBuildOptions {
	args := make(map[string]*string, len(o.BuildArgs)+1)
	for k, v := range o.BuildArgs {
		args[k] = &v
	}
	if o.InlineCache {
		one := "1"
		args["BUILDKIT_INLINE_CACHE"] = &one
	}
	return client.ImageBuildOptions{
		Version:     dockerbuild.BuilderBuildKit,
		BuildID:     id,
		Dockerfile:  o.Context.DockerfileName(),
		Target:      o.Target,
		Tags:        o.Tags,
		BuildArgs:   args,
		Labels:      o.Labels,
		NetworkMode: o.Network,
		CacheFrom:   o.CacheFrom,
		PullParent:  o.Pull,
		NoCache:     o.NoCache,
		Remove:      true,
	}
}

// session opens a session for the context, or returns nil when contexts go
// as tar bodies: by choice, or since a session could not be had (remembered,
// so that later builds do not wait for it again).
func (e *Engine) session(ctx context.Context, c *buildcontext.Context, attach []session.Attachable) *contextSession {
	e.mu.Lock()
	skip := e.tarOnly || e.noSession != nil
	e.mu.Unlock()
	if skip {
		return nil
	}
	sess, err := e.startSession(ctx, c, attach)
	if err != nil {
		if ctx.Err() == nil {
			e.mu.Lock()
			e.noSession = err
			e.mu.Unlock()
		}
		return nil
	}
	return sess
}

// Inspect returns an image's id and size.
func (e *Engine) Inspect(ctx context.Context, ref string) (build.Image, error) {
	ii, err := e.c.ImageInspect(ctx, ref)
	if err != nil {
		return build.Image{}, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	return build.Image{ID: ii.ID, Size: ii.Size}, nil
}

// Name gives an image another name in the engine's store.
func (e *Engine) Name(ctx context.Context, imageID, ref string) error {
	if _, err := e.c.ImageTag(ctx, client.ImageTagOptions{Source: imageID, Target: ref}); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", imageID, ref, err)
	}
	return nil
}

// Untag removes a name from the engine's store, keeping the image when other
// names or containers use it.
func (e *Engine) Untag(ctx context.Context, ref string) error {
	if _, err := e.c.ImageRemove(ctx, ref, client.ImageRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing the name %s: %w", ref, err)
	}
	return nil
}

func encodeAuth(a build.Auth) (string, error) {
	return authconfig.Encode(registry.AuthConfig{Username: a.Username, Password: a.Password, ServerAddress: a.Host})
}

// Push pushes a built image to ref: it names the image ref in the engine's
// store for the push, and removes the name after it. It reads the stream to
// its end; a failure the registry may get over wraps
// registrykind.ErrUnavailable, a refused token registrykind.ErrAuthExpired.
func (e *Engine) Push(ctx context.Context, imageID, ref string, auth build.Auth) (build.Pushed, error) {
	enc, err := encodeAuth(auth)
	if err != nil {
		return build.Pushed{}, fmt.Errorf("encoding registry credentials: %w", err)
	}
	if err := e.Name(ctx, imageID, ref); err != nil {
		return build.Pushed{}, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		_ = e.Untag(cctx, ref)
	}()
	rc, err := e.c.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: enc})
	if err != nil {
		return build.Pushed{}, fmt.Errorf("pushing %s: %w", ref, registrykind.Classify(err))
	}
	defer rc.Close()
	p, err := decodePush(rc)
	if err != nil {
		return build.Pushed{}, fmt.Errorf("pushing %s: %w", ref, registrykind.Classify(err))
	}
	return p, nil
}

// ResolveBase says what a base image reference (a FROM line) stands for
// now, as a build resolves it. Without remote (a build without pull), that
// is the local image's id when the engine has it (BuildKit in the engine
// uses a local image before the registry's), else the manifest digest the
// registry has for it; with remote (a build with pull, which always asks
// the registry), it is the registry's digest, whatever the engine holds.
// auth is sent only to the reference's own registry.
func (e *Engine) ResolveBase(ctx context.Context, ref string, auth build.Auth, remote bool) (string, error) {
	if !remote {
		if ii, err := e.c.ImageInspect(ctx, ref); err == nil {
			return ii.ID, nil
		} else if !cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("inspecting base image %s: %w", ref, err)
		}
	}
	enc := ""
	if forRegistryOf(auth, ref) {
		var err error
		if enc, err = encodeAuth(auth); err != nil {
			return "", fmt.Errorf("encoding registry credentials: %w", err)
		}
	}
	di, err := e.c.DistributionInspect(ctx, ref, client.DistributionInspectOptions{EncodedRegistryAuth: enc})
	if err != nil {
		return "", fmt.Errorf("resolving base image %s in its registry: %w", ref, err)
	}
	return di.Descriptor.Digest.String(), nil
}

// forRegistryOf reports whether auth is a login for ref's registry: one
// with a password, for ref's host or for no host in particular (the caller
// chose it for ref). A login for another registry is never sent.
func forRegistryOf(auth build.Auth, ref string) bool {
	if auth.Username == "" && auth.Password == "" {
		return false
	}
	if auth.Host == "" {
		return true
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return false
	}
	return canonicalHost(auth.Host) == reference.Domain(named)
}

// canonicalHost is a registry host as reference.Domain names it: Docker
// Hub's several names are docker.io.
func canonicalHost(h string) string {
	h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	switch h {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return h
}

// Pull pulls one reference into the engine's store and reads the stream to
// its end.
func (e *Engine) Pull(ctx context.Context, ref string, auth build.Auth) error {
	enc, err := encodeAuth(auth)
	if err != nil {
		return fmt.Errorf("encoding registry credentials: %w", err)
	}
	rc, err := e.c.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: enc})
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, registrykind.Classify(err))
	}
	defer rc.Close()
	if _, err := decodeStatus(rc); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, registrykind.Classify(err))
	}
	return nil
}

var pushDone = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64}) size: ([0-9]+)`)

// decodePush reads a push stream: errors arrive in it as errorDetail; the
// digest in the closing status line (and, on the classic store, an aux).
func decodePush(r io.Reader) (build.Pushed, error) {
	msgs, err := decodeStatus(r)
	if err != nil {
		return build.Pushed{}, err
	}
	var p build.Pushed
	for _, m := range msgs {
		if m.Aux != nil {
			var aux struct {
				Digest string
				Size   int64
			}
			if json.Unmarshal(*m.Aux, &aux) == nil && aux.Digest != "" {
				p = build.Pushed{Digest: aux.Digest, Size: aux.Size}
			}
		}
		if sm := pushDone.FindStringSubmatch(m.Status); sm != nil && p.Digest == "" {
			n, _ := strconv.ParseInt(sm[2], 10, 64)
			p = build.Pushed{Digest: sm[1], Size: n}
		}
	}
	if p.Digest == "" {
		return build.Pushed{}, errors.New("the engine reported no digest")
	}
	return p, nil
}

// decodeStatus reads a pull or push stream to its end, returning the
// messages that carry a digest or aux, or the first error in it.
func decodeStatus(r io.Reader) ([]message, error) {
	var keep []message
	streamErr, err := readStream(r, func(m *message) error {
		if m.Aux != nil || pushDone.MatchString(m.Status) {
			keep = append(keep, *m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return keep, streamErr
}
