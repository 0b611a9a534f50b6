package docker_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/client"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/docker"
	"github.com/org/ms-build-action/internal/buildcontext"
	"github.com/org/ms-build-action/internal/ecr"
	"github.com/org/ms-build-action/internal/registry"
	"github.com/org/ms-build-action/internal/testenv"
)

// These tests drive the adapter against the real engine (DOCKER_HOST) and
// the project's ECR endpoint in front of distribution/v3, which checks the
// password itself. The images are a few KB: busybox plus a file.

// twoStage: the build stage writes a file from the context, the runtime
// stage copies it; the nonce makes every build's RUN run.
const twoStage = `FROM ` + testenv.BusyboxImage + ` AS build
COPY nonce.txt /src/nonce.txt
RUN cat /src/nonce.txt > /out.txt && echo built-it
FROM ` + testenv.BusyboxImage + `
COPY --from=build /out.txt /out.txt
`

// openContext writes a context with the Dockerfile and a fresh nonce.txt.
func openContext(t *testing.T, dockerfile string) (*buildcontext.Context, string) {
	t.Helper()
	dir := t.TempDir()
	nonce := rand.Text()
	must(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "nonce.txt"), []byte(nonce), 0o644))
	c, err := buildcontext.Open(dir, "")
	must(t, err)
	t.Cleanup(func() { c.Close() })
	return c, nonce
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// engine returns an Engine over the real engine, with the base images.
func engine(t *testing.T, opts ...docker.EngineOption) (*docker.Engine, *client.Client) {
	t.Helper()
	c := testenv.Docker(t)
	testenv.BaseImages(t, c)
	return docker.NewEngine(c, opts...), c
}

// built builds twoStage under a local name of the test's own (removed when
// the test ends, so the shared engine keeps nothing) and returns the image.
func built(t *testing.T, e *docker.Engine, c *client.Client) (build.Image, string) {
	t.Helper()
	bc, _ := openContext(t, twoStage)
	tag := "msb-adapter-test/" + strings.ToLower(rand.Text()) + ":built"
	t.Cleanup(func() {
		c.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	img, err := e.Build(t.Context(), build.Spec{Context: bc, Tags: []string{tag}, Network: "none"}, &testenv.Steps{})
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	return img, tag
}

// ready starts an ECR endpoint in front of distribution/v3, with the
// repository, and returns it with a login.
func ready(t *testing.T, opts ...testenv.Options) (*testenv.ECR, registry.Login) {
	t.Helper()
	e := testenv.StartECR(t, testenv.DistributionV3, opts...)
	r := ecr.New(e.Client, "", "team/app")
	_, err := r.Repository(t.Context(), true)
	must(t, err)
	login, err := r.Login(t.Context())
	must(t, err)
	return e, login
}

// TestIntegrationBuild: a two-stage build through each way a context can
// reach the engine returns the image's id and size, reports the steps it
// ran, and the image holds what the build stage made.
func TestIntegrationBuild(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     []docker.EngineOption
		transfer string
	}{
		{"session", nil, "session"},
		{"tar", []docker.EngineOption{docker.WithTarContext()}, "tar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, c := engine(t, tc.opts...)
			bc, nonce := openContext(t, twoStage)
			tag := "msb-adapter-test/" + strings.ToLower(rand.Text()) + ":built"
			t.Cleanup(func() {
				c.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
			})
			var p testenv.Steps
			start := time.Now()
			img, err := e.Build(t.Context(), build.Spec{Context: bc, Tags: []string{tag}, Network: "none"}, &p)
			t.Logf("built in %v: %+v", time.Since(start), img)
			if err != nil {
				t.Fatalf("Build() = %v", err)
			}
			if got := e.ContextTransfer(); got != tc.transfer {
				t.Errorf("ContextTransfer() = %q, want %q", got, tc.transfer)
			}
			ii, err := c.ImageInspect(t.Context(), tag)
			must(t, err)
			if img.ID != ii.ID || img.Size != ii.Size || img.Size == 0 {
				t.Errorf("Build() = %+v, want the engine's id %s and size %d", img, ii.ID, ii.Size)
			}

			var run *build.Step
			for i, s := range p.Done {
				if strings.Contains(s.Name, "RUN cat /src/nonce.txt") {
					run = &p.Done[i]
				}
			}
			switch {
			case run == nil:
				t.Fatalf("no StepDone for the RUN step; done: %v", stepNames(p.Done))
			case run.Cached || run.Err != "":
				t.Errorf("RUN step done = %+v, want run and succeeded", *run)
			case !strings.Contains(string(run.Log), "built-it"):
				t.Errorf("RUN step log = %q, want what it printed", run.Log)
			case run.Duration() <= 0:
				t.Errorf("RUN step has no duration: started %v, completed %v", run.Started, run.Completed)
			}
			if !hasStep(p.Started, "RUN cat /src/nonce.txt") {
				t.Errorf("no StepStarted for the RUN step; started: %v", stepNames(p.Started))
			}
			if !hasStep(p.Done, "COPY --from=build /out.txt /out.txt") {
				t.Errorf("no StepDone for the runtime stage's COPY; done: %v", stepNames(p.Done))
			}
			for _, s := range p.Started {
				if !hasStep(p.Done, s.Name) {
					t.Errorf("step %q started and was never done", s.Name)
				}
			}

			if out, code := testenv.Run(t, c, tag, "cat", "/out.txt"); code != 0 || out != nonce {
				t.Errorf("the image's /out.txt = %q (exit %d), want the context's nonce %q", out, code, nonce)
			}
		})
	}
}

func hasStep(steps []build.Step, part string) bool {
	for _, s := range steps {
		if strings.Contains(s.Name, part) {
			return true
		}
	}
	return false
}

func stepNames(steps []build.Step) []string {
	var n []string
	for _, s := range steps {
		n = append(n, s.Name)
	}
	return n
}

// TestIntegrationBuildStepError: a failing RUN is a *build.StepError that
// names the step, with what the engine said.
func TestIntegrationBuildStepError(t *testing.T) {
	t.Parallel()
	e, _ := engine(t)
	bc, _ := openContext(t, `FROM `+testenv.BusyboxImage+`
COPY nonce.txt /nonce.txt
RUN echo about-to-fail && exit 3
`)
	var p testenv.Steps
	_, err := e.Build(t.Context(), build.Spec{Context: bc, Network: "none"}, &p)
	var se *build.StepError
	if !errors.As(err, &se) {
		t.Fatalf("Build() = %v, want a *build.StepError", err)
	}
	if !strings.Contains(se.Step, "RUN echo about-to-fail && exit 3") {
		t.Errorf("StepError.Step = %q, want the RUN step", se.Step)
	}
	if !strings.Contains(se.Msg, "exit code: 3") {
		t.Errorf("StepError.Msg = %q, want the exit code", se.Msg)
	}
	var failed *build.Step
	for i, s := range p.Done {
		if s.Err != "" {
			failed = &p.Done[i]
		}
	}
	if failed == nil || failed.Name != se.Step || !strings.Contains(string(failed.Log), "about-to-fail") {
		t.Errorf("the failed step reported as done = %+v, want %q with its log", failed, se.Step)
	}
}

// TestIntegrationPushPullResolve: a push gives the digest the registry has
// for the tag and leaves no name behind; the pushed image pulls back; a base
// image resolves to the local id, or, when not local, to the registry's
// digest.
func TestIntegrationPushPullResolve(t *testing.T) {
	t.Parallel()
	eng, c := engine(t)
	e, login := ready(t)
	img, _ := built(t, eng, c)
	ref := login.Host + "/team/app:v1"
	t.Cleanup(func() { c.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })

	start := time.Now()
	pushed, err := eng.Push(t.Context(), img.ID, ref, login.Auth)
	t.Logf("pushed in %v: %+v", time.Since(start), pushed)
	if err != nil {
		t.Fatalf("Push() = %v", err)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	must(t, err)
	desc, err := remote.Head(tag, remote.WithAuth(authn.FromConfig(authn.AuthConfig{Username: login.Username, Password: login.Password})), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("asking the registry for %s: %v", ref, err)
	}
	if got, want := pushed, (build.Pushed{Digest: desc.Digest.String(), Size: desc.Size}); got != want {
		t.Errorf("Push() = %+v, want the registry's %+v", got, want)
	}
	if _, err := c.ImageInspect(t.Context(), ref); !cerrdefs.IsNotFound(err) {
		t.Errorf("after Push(), the engine's name %s: %v, want it removed", ref, err)
	}

	// Not local: the registry's manifest digest.
	base, err := eng.ResolveBase(t.Context(), ref, login.Auth, false)
	if err != nil || base != pushed.Digest {
		t.Errorf("ResolveBase(%s) not local = %q, %v; want the registry's digest %s", ref, base, err, pushed.Digest)
	}

	if err := eng.Pull(t.Context(), ref, login.Auth); err != nil {
		t.Fatalf("Pull() = %v", err)
	}
	ii, err := c.ImageInspect(t.Context(), ref)
	if err != nil || ii.ID != img.ID {
		t.Errorf("after Pull(), %s is %q, %v; want the built image %s", ref, ii.ID, err, img.ID)
	}
	// Local: the image id, whatever the registry holds.
	if base, err := eng.ResolveBase(t.Context(), ref, login.Auth, false); err != nil || base != img.ID {
		t.Errorf("ResolveBase(%s) local = %q, %v; want the image id %s", ref, base, err, img.ID)
	}
	// Local, but asked of the registry (pull): the registry's digest.
	if base, err := eng.ResolveBase(t.Context(), ref, login.Auth, true); err != nil || base != pushed.Digest {
		t.Errorf("ResolveBase(%s, remote) = %q, %v; want the registry's digest %s", ref, base, err, pushed.Digest)
	}

	busybox, err := c.ImageInspect(t.Context(), testenv.BusyboxImage)
	must(t, err)
	if base, err := eng.ResolveBase(t.Context(), testenv.BusyboxImage, build.Auth{}, false); err != nil || base != busybox.ID {
		t.Errorf("ResolveBase(%s) = %q, %v; want the local id %s", testenv.BusyboxImage, base, err, busybox.ID)
	}

	wrong := login.Auth
	wrong.Password = "not-" + login.Password
	if err := eng.Pull(t.Context(), e.Registry+"/team/app:v1", wrong); err == nil {
		t.Error("Pull() with a wrong password succeeded")
	} else if strings.Contains(err.Error(), login.Password) {
		t.Errorf("Pull() error shows the password: %v", err)
	}
}

// TestIntegrationPushRefused: a push with a wrong password fails, and the
// error does not show the password.
func TestIntegrationPushRefused(t *testing.T) {
	t.Parallel()
	eng, c := engine(t)
	_, login := ready(t)
	img, _ := built(t, eng, c)
	ref := login.Host + "/team/app:refused"
	t.Cleanup(func() { c.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })

	wrong := login.Auth
	wrong.Password = "wrong-" + login.Password
	_, err := eng.Push(t.Context(), img.ID, ref, wrong)
	t.Logf("Push() with a wrong password: %v", err)
	if err == nil {
		t.Fatal("Push() with a wrong password succeeded")
	}
	if strings.Contains(err.Error(), wrong.Password) || strings.Contains(err.Error(), login.Password) {
		t.Errorf("Push() error shows the password: %v", err)
	}
	if errors.Is(err, registry.ErrUnavailable) {
		t.Errorf("Push() with a wrong password = %v: a refusal is not ErrUnavailable", err)
	}
}

// TestIntegrationPushUnavailable: a registry that keeps failing a push
// with a fault that may pass makes Push's error registry.ErrUnavailable:
// the adapter's classification holds on the real engine's wording.
func TestIntegrationPushUnavailable(t *testing.T) {
	t.Parallel()
	manifests := regexp.MustCompile(`/manifests/`)
	for _, tc := range []struct {
		name  string
		fault testenv.Fault
	}{
		{"manifest PUT 503", testenv.Fault{Method: "PUT", Path: manifests, Status: 503}},
		{"manifest PUT 500", testenv.Fault{Method: "PUT", Path: manifests, Status: 500}},
		{"manifest PUT 502", testenv.Fault{Method: "PUT", Path: manifests, Status: 502}},
		{"manifest PUT reset", testenv.Fault{Method: "PUT", Path: manifests, Reset: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eng, c := engine(t)
			var faults testenv.Faults
			_, login := ready(t, testenv.Options{WrapRegistry: faults.Wrap})
			img, _ := built(t, eng, c)
			ref := login.Host + "/team/app:v1"
			t.Cleanup(func() { c.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })
			faults.Add(tc.fault)

			start := time.Now()
			_, err := eng.Push(t.Context(), img.ID, ref, login.Auth)
			t.Logf("Push() failed after %v and %d faults: %v", time.Since(start), faults.Injected(), err)
			if err == nil {
				t.Fatal("Push() succeeded against a failing registry")
			}
			if faults.Injected() == 0 {
				t.Fatal("no fault was injected: the test did not test")
			}
			if !errors.Is(err, registry.ErrUnavailable) {
				t.Errorf("Push() = %v, want registry.ErrUnavailable", err)
			}
		})
	}
}

// TestIntegrationPushExpired: a login the registry no longer takes (the
// endpoint's token lifetime has passed) makes Push's error
// registry.ErrAuthExpired, on the real engine's wording, so the run logs in
// again.
func TestIntegrationPushExpired(t *testing.T) {
	t.Parallel()
	eng, c := engine(t)
	const ttl = 2 * time.Second
	_, login := ready(t, testenv.Options{TokenTTL: ttl})
	img, _ := built(t, eng, c)
	ref := login.Host + "/team/app:v1"
	t.Cleanup(func() { c.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) })
	if login.ExpiresAt.IsZero() || time.Until(login.ExpiresAt) > ttl {
		t.Fatalf("Login().ExpiresAt = %v, want within %v", login.ExpiresAt, ttl)
	}
	// ExpiresAt is in whole seconds (ECR's epoch seconds): wait one more.
	time.Sleep(time.Until(login.ExpiresAt) + 1100*time.Millisecond)

	_, err := eng.Push(t.Context(), img.ID, ref, login.Auth)
	t.Logf("Push() with an expired login: %v", err)
	if !errors.Is(err, registry.ErrAuthExpired) {
		t.Errorf("Push() with an expired login = %v, want registry.ErrAuthExpired", err)
	}
	if err != nil && strings.Contains(err.Error(), login.Password) {
		t.Errorf("Push() error shows the password: %v", err)
	}
}

// TestIntegrationCheckNoEngine: an engine that is not there fails Check,
// naming where it was looked for.
func TestIntegrationCheckNoEngine(t *testing.T) {
	t.Parallel()
	c, err := client.NewClientWithOpts(client.WithHost("unix:///nonexistent.sock"), client.WithAPIVersionNegotiation())
	must(t, err)
	defer c.Close()
	err = docker.NewEngine(c).Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "unix:///nonexistent.sock") {
		t.Errorf("Check() = %v, want an error naming unix:///nonexistent.sock", err)
	}
}
