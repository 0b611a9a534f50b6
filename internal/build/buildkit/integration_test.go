package buildkit_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/bkit"
	"github.com/org/ms-build-action/internal/build/buildkit"
	"github.com/org/ms-build-action/internal/buildcontext"
	"github.com/org/ms-build-action/internal/ecr"
	"github.com/org/ms-build-action/internal/registry"
	"github.com/org/ms-build-action/internal/testenv"
)

// These tests drive the builder against a real buildkitd (testenv.BuildKit:
// mTLS on loopback, base images from its mirror) and the project's ECR
// endpoint in front of distribution/v3, which checks the password itself.

// twoStage: the build stage writes a file from the context, the runtime
// stage copies it; the nonce makes every build's RUN run.
const twoStage = `FROM ` + testenv.BusyboxImage + ` AS build
COPY nonce.txt /src/nonce.txt
RUN cat /src/nonce.txt > /out.txt && uname -m >> /out.txt && echo built-it
FROM ` + testenv.BusyboxImage + `
COPY --from=build /out.txt /out.txt
`

func openContext(t *testing.T, dockerfile string) (*buildcontext.Context, string) {
	t.Helper()
	dir := t.TempDir()
	nonce := rand.Text()
	must(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "nonce.txt"), []byte(nonce), 0o644))
	c, err := buildcontext.Open(dir, "")
	must(t, err)
	return c, nonce
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// builder connects to d with its signed client certificate.
func builder(t *testing.T, d *testenv.BuildKitd, platforms ...string) *buildkit.Builder {
	t.Helper()
	b, err := buildkit.New(t.Context(), d.Addr, buildkit.TLS{CA: d.CA, Cert: d.Cert, Key: d.Key}, platforms)
	must(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

// ready starts an ECR endpoint in front of distribution/v3, with the
// repository, and returns it with a login.
func ready(t *testing.T) (*testenv.ECR, registry.Login) {
	t.Helper()
	e := testenv.StartECR(t, testenv.DistributionV3)
	r := ecr.New(e.Client, "", "team/app")
	_, err := r.Repository(t.Context(), true)
	must(t, err)
	login, err := r.Login(t.Context())
	must(t, err)
	return e, login
}

func fetch(t *testing.T, ref string, login registry.Login) *remote.Descriptor {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	must(t, err)
	d, err := remote.Get(r, remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: login.Username, Password: login.Password})), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("asking the registry for %s: %v", ref, err)
	}
	return d
}

// TestIntegrationBuildPush: a build over mTLS reports its steps, sizes its
// image, and a push exports the same image straight to the registry, with
// the registry's login, as one image manifest (no attestations).
func TestIntegrationBuildPush(t *testing.T) {
	t.Parallel()
	d := testenv.BuildKit(t)
	b := builder(t, d)
	must(t, b.Check(t.Context()))
	if p, err := b.Platform(t.Context()); err != nil || p != "linux/amd64" {
		t.Errorf("Platform() = %q, %v; want linux/amd64", p, err)
	}
	_, login := ready(t)
	bc, nonce := openContext(t, twoStage)
	var rec testenv.Steps
	img, err := b.Build(t.Context(), build.Spec{Context: bc, InlineCache: true}, &rec)
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	if run, ok := rec.Step("RUN cat /src/nonce.txt"); !ok || run.Cached || !strings.Contains(string(run.Log), "built-it") {
		t.Errorf("RUN step = %+v (found %v), want it run, with its output", run, ok)
	}
	bb, err := os.Stat("/bin/busybox")
	must(t, err)
	if img.Size < bb.Size() || img.Size > 4*bb.Size() {
		t.Errorf("Build() size = %d, want about busybox's %d", img.Size, bb.Size())
	}

	ref := login.Host + "/team/app:v1"
	pushed, err := b.Push(t.Context(), img.ID, ref, login.Auth)
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	desc := fetch(t, ref, login)
	if pushed.Digest != desc.Digest.String() || pushed.Size != desc.Size {
		t.Errorf("Push() = %+v, want the registry's %s (%d bytes)", pushed, desc.Digest, desc.Size)
	}
	if desc.MediaType.IsIndex() {
		t.Fatalf("pushed a %s, want one image manifest (no attestations)", desc.MediaType)
	}
	im, err := desc.Image()
	must(t, err)
	cfg, err := im.ConfigName()
	must(t, err)
	if cfg.String() != img.ID {
		t.Errorf("pushed config %s, want the built image %s", cfg, img.ID)
	}
	if got := testenv.ImageFile(t, im, "out.txt"); got != nonce+"x86_64\n" {
		t.Errorf("the image's /out.txt = %q, want the nonce and x86_64", got)
	}
	if base, err := b.ResolveBase(t.Context(), ref, login.Auth, false); err != nil || base != pushed.Digest {
		t.Errorf("ResolveBase(%s) = %q, %v; want %s", ref, base, err, pushed.Digest)
	}
	if _, err := b.Push(t.Context(), "sha256:"+strings.Repeat("0", 64), ref, login.Auth); err == nil {
		t.Error("Push() of an image the builder never built succeeded")
	}
}

// TestIntegrationFreshBuilderCache: after the daemon lost everything (a new
// runner), a build that imports the pushed image's inline cache from the
// registry runs no step again.
func TestIntegrationFreshBuilderCache(t *testing.T) {
	t.Parallel()
	d := testenv.BuildKit(t)
	b := builder(t, d)
	_, login := ready(t)
	bc, _ := openContext(t, twoStage)
	spec := build.Spec{Context: bc, InlineCache: true, Target: "build"}
	img, err := b.Build(t.Context(), spec, &testenv.Steps{})
	must(t, err)
	ref := login.Host + "/team/app:buildcache-k"
	_, err = b.Push(t.Context(), img.ID, ref, login.Auth)
	must(t, err)

	d.Restart(t)
	b = builder(t, d)
	must(t, b.Pull(t.Context(), ref, login.Auth))
	spec.CacheFrom = []string{ref}
	spec.Registries = fixed{login.Auth}
	var rec testenv.Steps
	again, err := b.Build(t.Context(), spec, &rec)
	must(t, err)
	if run, ok := rec.Step("RUN cat /src/nonce.txt"); !ok || !run.Cached {
		t.Errorf("RUN step on a fresh builder = %+v (found %v), want it from the registry's cache", run, ok)
	}
	if again.ID != img.ID {
		t.Errorf("rebuilt %s from the cache, want the same image %s", again.ID, img.ID)
	}
	if err := b.Pull(t.Context(), login.Host+"/team/app:missing", login.Auth); err == nil {
		t.Error("Pull() of a missing cache succeeded")
	}
}

// fixed answers with one login for its own host.
type fixed struct{ a build.Auth }

func (f fixed) Credentials(_ context.Context, host string) (build.Auth, error) {
	if host == f.a.Host {
		return f.a, nil
	}
	return build.Auth{}, nil
}

// TestIntegrationRefusedClient: a client certificate the daemon's CA did
// not sign, or none, is refused, and Check says where and what to check.
func TestIntegrationRefusedClient(t *testing.T) {
	t.Parallel()
	d := testenv.BuildKit(t)
	for name, tls := range map[string]buildkit.TLS{
		"unsigned": {CA: d.CA, Cert: d.UnsignedCert, Key: d.UnsignedKey},
		"none":     {CA: d.CA},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := buildkit.New(t.Context(), d.Addr, tls, nil)
			must(t, err)
			defer b.Close()
			err = b.Check(t.Context())
			if err == nil || !strings.Contains(err.Error(), d.Addr) || !strings.Contains(err.Error(), "buildkit-cert") {
				t.Errorf("Check() = %v, want a refusal naming %s and the certificates", err, d.Addr)
			}
		})
	}
}

// TestIntegrationCancel: a cancelled build stops in the daemon, soon.
func TestIntegrationCancel(t *testing.T) {
	t.Parallel()
	d := testenv.BuildKit(t)
	b := builder(t, d)
	bc, _ := openContext(t, "FROM "+testenv.BusyboxImage+"\nCOPY nonce.txt /\nRUN sleep 120\n")
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	var once sync.Once
	p := startedHook{func() { once.Do(func() { close(started) }) }}
	done := make(chan error, 1)
	go func() {
		_, err := b.Build(ctx, build.Spec{Context: bc}, p)
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("the RUN step never started")
	}
	t0 := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Build() after cancel = %v, want context.Canceled", err)
		}
		t.Logf("stopped %v after the cancel", time.Since(t0))
	case <-time.After(20 * time.Second):
		t.Fatal("Build() did not return within 20 s of the cancel")
	}
}

type startedHook struct{ f func() }

func (h startedHook) StepStarted(s build.Step) {
	if strings.Contains(s.Name, "RUN sleep") {
		h.f()
	}
}
func (startedHook) StepDone(build.Step) {}

// TestIntegrationStepFails: a failing RUN step is a StepError naming the
// step, with its output.
func TestIntegrationStepFails(t *testing.T) {
	t.Parallel()
	d := testenv.BuildKit(t)
	b := builder(t, d)
	bc, _ := openContext(t, "FROM "+testenv.BusyboxImage+"\nCOPY nonce.txt /\nRUN echo about-to-fail && exit 3\n")
	var rec testenv.Steps
	_, err := b.Build(t.Context(), build.Spec{Context: bc}, &rec)
	var se *build.StepError
	if !errors.As(err, &se) || !strings.Contains(se.Step, "RUN echo about-to-fail") || !strings.Contains(se.Msg, "exit code: 3") {
		t.Fatalf("Build() = %v, want a StepError for the RUN step with its exit code", err)
	}
	if s, ok := rec.Step("RUN echo about-to-fail"); !ok || !strings.Contains(string(s.Log), "about-to-fail") {
		t.Errorf("the failing step's output was not reported: %+v", s)
	}
}

// TestIntegrationPrivateBase: a base image only a registry that checks
// credentials holds is pulled with the login the build's credentials give
// for it; without one, the build fails naming the registry.
func TestIntegrationPrivateBase(t *testing.T) {
	t.Parallel()
	d := testenv.BuildKit(t)
	b := builder(t, d)
	_, login := ready(t)
	base := login.Host + "/team/app:base"
	marker := testenv.PushBase(t, base, authn.FromConfig(authn.AuthConfig{Username: login.Username, Password: login.Password}))
	bc, _ := openContext(t, "FROM "+base+"\nCOPY nonce.txt /\nRUN cat /marker.txt\n")
	var rec testenv.Steps
	if _, err := b.Build(t.Context(), build.Spec{Context: bc, Registries: fixed{login.Auth}}, &rec); err != nil {
		t.Fatalf("Build() with the registry's login = %v", err)
	}
	if s, _ := rec.Step("RUN cat /marker.txt"); !strings.Contains(string(s.Log), marker) {
		t.Errorf("RUN cat /marker.txt printed %q, want the private base's marker %q", s.Log, marker)
	}
	_, err := b.Build(t.Context(), build.Spec{Context: bc}, &testenv.Steps{})
	var re *bkit.RegistryRefusedError
	if !errors.As(err, &re) || re.Host != login.Host {
		t.Errorf("Build() without a login = %v, want a refusal by %s", err, login.Host)
	}
}

// TestIntegrationSecret: a build secret reaches its RUN step through the
// session and no layer.
func TestIntegrationSecret(t *testing.T) {
	t.Parallel()
	d := testenv.BuildKit(t)
	b := builder(t, d)
	_, login := ready(t)
	value := "s3cr3t-" + rand.Text()
	bc, _ := openContext(t, "FROM "+testenv.BusyboxImage+"\nCOPY nonce.txt /\nRUN --mount=type=secret,id=tok sha256sum /run/secrets/tok | cut -c1-64 > /ok\n")
	img, err := b.Build(t.Context(), build.Spec{Context: bc, Secrets: []build.Secret{{ID: "tok", Value: []byte(value)}}}, &testenv.Steps{})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	ref := login.Host + "/team/app:secret"
	_, err = b.Push(t.Context(), img.ID, ref, login.Auth)
	must(t, err)
	im, err := fetch(t, ref, login).Image()
	must(t, err)
	if got, want := testenv.ImageFile(t, im, "ok"), fmt.Sprintf("%x\n", sha256.Sum256([]byte(value))); got != want {
		t.Errorf("/ok = %q, want the secret's SHA-256 %q: the step did not see it", got, want)
	}
	cfg, err := im.RawConfigFile()
	must(t, err)
	if strings.Contains(string(cfg), value) {
		t.Error("the image's config holds the secret")
	}
}
