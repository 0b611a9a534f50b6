package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/pipeline"
	"github.com/org/ms-build-action/internal/registry"
)

const twoStage = `FROM golang:1 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /out/app .

FROM busybox:1 AS runtime
COPY --from=build /out/app /app
`

// env is one project and its repository, across several runs: each run
// gets a fresh builder (a new runner) unless a test hands it one.
type env struct {
	t     *testing.T
	dir   string
	reg   *fakeRegistry
	clock atomic.Int64 // seconds since start; each Now() moves it by one
}

func newEnv(t *testing.T, files map[string]string) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.reg = newRegistry(e.now)
	if files == nil {
		files = map[string]string{"Dockerfile": twoStage, "go.mod": "module app\n", "go.sum": "dep v1 h1:abc=\n", "main.go": "package main\n"}
	}
	for name, content := range files {
		e.write(name, content)
	}
	return e
}

func (e *env) now() time.Time {
	return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).Add(time.Duration(e.clock.Add(1)) * time.Second)
}

func (e *env) write(name, content string) {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) input(mod ...func(*pipeline.Input)) pipeline.Input {
	in := pipeline.Input{
		Context:          e.dir,
		Workspace:        e.dir,
		Repository:       "team/app",
		Tags:             []string{"v1", "latest"},
		Push:             true,
		CreateRepository: true,
		Cache:            true,
		CacheRetention:   14,
		CacheWrite:       true,
		Commit:           pipeline.Commit{SHA: "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4", Branch: "main", DefaultBranch: "main", SourceURL: "https://github.com/acme/app"},
	}
	for _, m := range mod {
		m(&in)
	}
	return in
}

type outcome struct {
	res pipeline.Result
	err error
	log *fakeLog
	b   *fakeBuilder
}

// run runs the pipeline once with builder b (a new one when nil).
func (e *env) run(ctx context.Context, b *fakeBuilder, in pipeline.Input) outcome {
	e.t.Helper()
	if b == nil {
		b = newBuilder(e.reg)
	}
	log := &fakeLog{secrets: e.reg.passwords}
	p := &pipeline.Pipeline{Builder: b, Log: log, Now: e.now, Pause: func(context.Context, int) error { return nil }}
	if in.Push {
		p.Publisher = e.reg
	}
	res, err := p.Run(ctx, in)
	if len(log.leaked) > 0 {
		e.t.Errorf("a secret was said before it was masked: %q", log.leaked)
	}
	return outcome{res, err, log, b}
}

func mustSucceed(t *testing.T, o outcome) {
	t.Helper()
	if o.err != nil {
		t.Fatalf("Run() = %v; log:\n%s", o.err, o.log.text())
	}
}

func ref(tag string) string { return "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:" + tag }

// noStaging fails when a staging tag was left in the repository.
func noStaging(t *testing.T, reg *fakeRegistry) {
	t.Helper()
	for _, tag := range reg.tagged() {
		if strings.HasPrefix(tag, "msb-staging-") {
			t.Errorf("staging tag %s left in the repository", tag)
		}
	}
}

func TestMissThenHitThenSkip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)

	// A first run: nothing in the repository.
	first := e.run(t.Context(), nil, e.input())
	mustSucceed(t, first)
	r := first.res
	if r.CacheHit || r.Skipped {
		t.Errorf("first run: cache-hit %v, skipped %v; want both false", r.CacheHit, r.Skipped)
	}
	if got, want := first.b.targets(), []string{"build", "runtime"}; !slices.Equal(got, want) {
		t.Errorf("first run built %q, want %q: after a miss the build stage goes first", got, want)
	}
	if r.Digest == "" || r.Digest != e.reg.digestOf("v1") || r.Digest != e.reg.digestOf("latest") {
		t.Errorf("digest %s; the registry has v1 at %s, latest at %s", r.Digest, e.reg.digestOf("v1"), e.reg.digestOf("latest"))
	}
	if got, want := r.ImageURI, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@"+r.Digest; got != want {
		t.Errorf("image-uri %s, want %s", got, want)
	}
	if diff := cmp.Diff([]string{ref("v1"), ref("latest")}, r.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if r.ImageSizeBytes != 4000 || r.UncompressedSizeBytes == 0 || r.BuildStageSizeBytes != 500_000 {
		t.Errorf("sizes: compressed %d (want 4000), uncompressed %d, build stage %d (want 500000)", r.ImageSizeBytes, r.UncompressedSizeBytes, r.BuildStageSizeBytes)
	}
	if r.CacheKey == "" || e.reg.digestOf("buildcache-"+r.CacheKey[:16]) == "" {
		t.Errorf("the build cache of key %q was not stored; tags: %q", r.CacheKey, e.reg.tagged())
	}
	if e.reg.digestOf(cache.BranchCacheTag("main")) == "" || e.reg.digestOf(cache.RuntimeCacheTag("main")) == "" {
		t.Errorf("the branch's caches were not pointed; tags: %q", e.reg.tagged())
	}
	if e.reg.expiry == nil || !slices.Equal(e.reg.expiry.Prefixes, cache.ExpiringTagPrefixes) || e.reg.expiry.Days != 14 {
		t.Errorf("the created repository's expiry = %+v", e.reg.expiry)
	}
	if rt, _ := first.b.spec("runtime"); rt.Labels["org.opencontainers.image.revision"] == "" || rt.Labels["org.opencontainers.image.source"] == "" {
		t.Errorf("runtime labels %v lack source and revision", rt.Labels)
	}
	noStaging(t, e.reg)

	// A source-only change on a fresh runner: the dependency key holds.
	e.write("main.go", "package main\n\nfunc main() {}\n")
	second := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"v2"} }))
	mustSucceed(t, second)
	if !second.res.CacheHit || second.res.CacheKey != r.CacheKey {
		t.Errorf("source-only change: cache-hit %v, key %s (was %s); want a hit on the same key", second.res.CacheHit, second.res.CacheKey, r.CacheKey)
	}
	if got, want := second.b.targets(), []string{"runtime", "build"}; !slices.Equal(got, want) {
		t.Errorf("after a hit built %q, want %q: the build stage is sized beside the runtime build", got, want)
	}
	if bs, _ := second.b.spec("build"); !slices.Contains(bs.CacheFrom, ref("buildcache-"+r.CacheKey[:16])) {
		t.Errorf("the build stage's cache-from %q lacks the key's cache", bs.CacheFrom)
	}
	if rt, _ := second.b.spec("runtime"); !slices.Contains(rt.CacheFrom, ref(cache.RuntimeCacheTag("main"))) {
		t.Errorf("the runtime's cache-from %q lacks the branch's runtime cache", rt.CacheFrom)
	}
	if second.res.BuildStageSizeBytes != 500_000 {
		t.Errorf("build-stage-size-bytes %d after a hit, want it sized beside the runtime build", second.res.BuildStageSizeBytes)
	}
	if !slices.ContainsFunc(second.res.Timings, func(tm pipeline.Timing) bool { return strings.Contains(tm.Name, "sized beside the runtime build") }) {
		t.Errorf("timings %v lack the build stage sized beside the runtime build", second.res.Timings)
	}

	// The same inputs again: skipped, with the same digest, nothing built.
	third := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"v3"} }))
	mustSucceed(t, third)
	if !third.res.Skipped || third.res.Digest != second.res.Digest {
		t.Errorf("unchanged re-run: skipped %v, digest %s; want skipped with %s", third.res.Skipped, third.res.Digest, second.res.Digest)
	}
	if n := len(third.b.targets()); n != 0 || len(third.b.pushes) != 0 {
		t.Errorf("a skip built %d targets and pushed %q", n, third.b.pushes)
	}
	if e.reg.digestOf("v3") != second.res.Digest || third.res.ImageID == "" {
		t.Errorf("v3 at %s, image-id %q; want the skipped image's digest and its config digest", e.reg.digestOf("v3"), third.res.ImageID)
	}
}

func TestDependencyChangeFallsBackToBranchCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), nil, e.input()))
	e.write("go.sum", "dep v2 h1:def=\n")
	o := e.run(t.Context(), nil, e.input())
	mustSucceed(t, o)
	if o.res.CacheHit {
		t.Error("a dependency change reported a cache hit")
	}
	bs, _ := o.b.spec("build")
	if !slices.Contains(bs.CacheFrom, ref(cache.BranchCacheTag("main"))) {
		t.Errorf("build stage cache-from %q, want the branch's cache as the fallback", bs.CacheFrom)
	}
	if !strings.Contains(o.log.text(), "Cache miss for key") || !strings.Contains(o.log.text(), "starting from") {
		t.Errorf("log does not say the miss started from the branch's cache:\n%s", o.log.text())
	}
}

func TestPullRequestStartsFromDefaultBranch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), nil, e.input()))
	e.write("go.sum", "dep v3 h1:xyz=\n")
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Commit.Branch = "feature/x" }))
	mustSucceed(t, o)
	bs, _ := o.b.spec("build")
	if !slices.Contains(bs.CacheFrom, ref(cache.BranchCacheTag("main"))) {
		t.Errorf("a new branch's build stage cache-from %q, want the default branch's cache", bs.CacheFrom)
	}
}

func TestSkipOnImmutableRepository(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.reg.immutable = true
	mustSucceed(t, e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"v1"} })))
	if e.reg.digestOf(cache.RuntimeCacheTag("main")) != "" || e.reg.digestOf(cache.BranchCacheTag("main")) != "" {
		t.Errorf("moving branch tags were set on an immutable repository: %q", e.reg.tagged())
	}
	// The same tag again, and a new one: both attach to the same image.
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"v1", "v1.0"} }))
	mustSucceed(t, o)
	if !o.res.Skipped || e.reg.digestOf("v1.0") != e.reg.digestOf("v1") {
		t.Errorf("skipped %v; v1.0 at %s, v1 at %s", o.res.Skipped, e.reg.digestOf("v1.0"), e.reg.digestOf("v1"))
	}
}

func TestBrokenCacheBuildsAnyway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), nil, e.input()))
	e.write("main.go", "package main // changed\n")
	b := newBuilder(e.reg)
	b.pullFail = func(ref string) error { return errors.New("manifest unknown: blob sha256:dead is missing") }
	o := e.run(t.Context(), b, e.input())
	mustSucceed(t, o)
	if o.res.CacheHit {
		t.Error("a cache that could not be pulled counted as a hit")
	}
	if !o.log.has(pipeline.Warning, "could not be used") {
		t.Errorf("no warning about the broken cache:\n%s", o.log.text())
	}
	if bs, _ := o.b.spec("build"); len(bs.CacheFrom) != 0 {
		t.Errorf("the build used the broken cache: %q", bs.CacheFrom)
	}
}

func TestCacheLookupFailureIsAWarning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.reg.fail = func(op, ref string) error {
		if op == "Lookup" && strings.Contains(ref, "buildcache-") {
			return errors.New("ThrottlingException: rate exceeded")
		}
		return nil
	}
	o := e.run(t.Context(), nil, e.input())
	mustSucceed(t, o)
	if !o.log.has(pipeline.Warning, "looking up caches") {
		t.Errorf("no warning for the failed lookup:\n%s", o.log.text())
	}
}

func TestMaxImageSize(t *testing.T) {
	t.Parallel()
	for _, skip := range []bool{false, true} {
		t.Run(map[bool]string{false: "built", true: "skipped"}[skip], func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			if skip {
				mustSucceed(t, e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"v0"} })))
			}
			o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.MaxImageSize = 1000 }))
			var ie *pipeline.InputError
			if !errors.As(o.err, &ie) || ie.Input != "max-image-size" || !strings.Contains(ie.Msg, "no tag was attached") {
				t.Fatalf("Run() = %v, want an input error naming max-image-size", o.err)
			}
			if e.reg.digestOf("v1") != "" || e.reg.digestOf("latest") != "" || len(o.res.Tags) != 0 {
				t.Errorf("tags attached after a failed size check: %q", e.reg.tagged())
			}
			if o.res.Skipped != skip {
				t.Errorf("skipped = %v, want %v", o.res.Skipped, skip)
			}
			noStaging(t, e.reg)
		})
	}
}

func TestPartialTags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.reg.fail = func(op, ref string) error {
		if op == "Put" && ref == "bad" {
			return errors.New("ServerException: try again later")
		}
		return nil
	}
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"v1", "v1.0", "bad", "never"} }))
	if o.err == nil || !strings.Contains(o.err.Error(), "attaching tag bad") || !strings.Contains(o.err.Error(), "attached before it: v1, v1.0") {
		t.Fatalf("Run() = %v, want a failure naming the tag and those attached before it", o.err)
	}
	if diff := cmp.Diff([]string{ref("v1"), ref("v1.0")}, o.res.Tags); diff != "" {
		t.Errorf("result tags (-want +got): exactly the attached ones\n%s", diff)
	}
	if e.reg.count("Put never") != 0 || e.reg.digestOf("never") != "" {
		t.Error("a tag was tried after one failed")
	}
	noStaging(t, e.reg)
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.reg.ttl = 10 * time.Minute // under the run's margin: every push logs in again
	o := e.run(t.Context(), nil, e.input())
	mustSucceed(t, o)
	if e.reg.logins < 2 {
		t.Errorf("logged in %d times, want a new login before the push", e.reg.logins)
	}
	last := o.b.auths[len(o.b.auths)-1].Password
	if !strings.HasSuffix(last, "-"+string(rune('0'+e.reg.logins))) {
		t.Errorf("the last push used %q, not the newest password", last)
	}
	if !strings.Contains(o.log.text(), "logging in again") {
		t.Errorf("the log does not say it logged in again:\n%s", o.log.text())
	}
	if len(o.log.masked) != e.reg.logins {
		t.Errorf("masked %d passwords for %d logins", len(o.log.masked), e.reg.logins)
	}
}

func TestPushFaults(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("denied: not authorized to perform ecr:PutImage")
	for _, tc := range []struct {
		name      string
		fail      func(try int) error
		wantErr   string // "" for success
		wantTries int
	}{
		{"three transient faults", func(try int) error {
			if try <= 3 {
				return errTransient
			}
			return nil
		}, "", 4},
		{"persistent fault", func(int) error { return errTransient }, "keeps failing", 4},
		{"expired token", func(try int) error {
			if try == 1 {
				return registry.ErrAuthExpired
			}
			return nil
		}, "", 2},
		{"refusal is not retried", func(int) error { return errRefused }, "not authorized", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			b := newBuilder(e.reg)
			b.pushFail = func(ref string, try int) error {
				if strings.Contains(ref, ":msb-staging-") {
					return tc.fail(try)
				}
				return nil
			}
			o := e.run(t.Context(), b, e.input())
			tries := 0
			for _, p := range b.pushes {
				if strings.Contains(p, ":msb-staging-") {
					tries++
				}
			}
			if tries != tc.wantTries {
				t.Errorf("pushed %d times, want %d", tries, tc.wantTries)
			}
			if tc.wantErr == "" {
				mustSucceed(t, o)
				if o.res.Digest != e.reg.digestOf("v1") {
					t.Errorf("digest %s, registry has %s", o.res.Digest, e.reg.digestOf("v1"))
				}
				return
			}
			if o.err == nil || !strings.Contains(o.err.Error(), tc.wantErr) {
				t.Errorf("Run() = %v, want an error saying %q", o.err, tc.wantErr)
			}
			if e.reg.digestOf("v1") != "" || len(o.res.Tags) != 0 {
				t.Error("a tag was attached though the push failed")
			}
		})
	}
	t.Run("expired token logs in again", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		b := newBuilder(e.reg)
		b.pushFail = func(ref string, try int) error {
			if try == 1 && strings.Contains(ref, ":msb-staging-") {
				return registry.ErrAuthExpired
			}
			return nil
		}
		mustSucceed(t, e.run(t.Context(), b, e.input()))
		if e.reg.logins < 2 {
			t.Errorf("logged in %d times after the registry refused the token", e.reg.logins)
		}
	})
}

func TestStepFailurePushesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := newBuilder(e.reg)
	b.buildFail = func(_ context.Context, s build.Spec) error {
		if s.Target == "build" {
			return errStep
		}
		return nil
	}
	o := e.run(t.Context(), b, e.input())
	if !errorsIs(o.err, o.err) || o.err == nil || !strings.Contains(o.err.Error(), "building stage build") {
		t.Fatalf("Run() = %v, want the build stage's failure", o.err)
	}
	if len(b.pushes) != 0 || len(e.reg.tagged()) != 0 {
		t.Errorf("a failed build pushed %q; tags %q", b.pushes, e.reg.tagged())
	}
	// The failure is reported once, by the front end, at the step's line.
	var de *pipeline.DockerfileError
	if !errors.As(o.err, &de) || de.File != "Dockerfile" || de.Line != 6 || !strings.Contains(de.Error(), "RUN go build") {
		t.Errorf("Run() = %#v, want a DockerfileError at the failing step's line 6", o.err)
	}
	for _, n := range o.log.notes {
		if n.Level == pipeline.Error {
			t.Errorf("the run reported the failure itself too: %+v", n)
		}
	}
}

// An engine without a bridge network fails the first RUN step on the default
// network: the error names the engine and the input that avoids it, and
// points at no Dockerfile line (the line is fine).
func TestNoBridgeNamesTheNetworkInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := newBuilder(e.reg)
	b.buildFail = func(context.Context, build.Spec) error { return build.ErrNoBridge }
	o := e.run(t.Context(), b, e.input())
	if !errors.Is(o.err, build.ErrNoBridge) || !strings.HasSuffix(o.err.Error(), "has no bridge network for RUN steps: set network: none (or host)") {
		t.Fatalf("Run() = %v, want the engine's missing bridge and what to set", o.err)
	}
	if de := new(pipeline.DockerfileError); errors.As(o.err, &de) {
		t.Errorf("the error points at line %d of the Dockerfile, which is not at fault", de.Line)
	}
	if len(b.pushes) != 0 || len(e.reg.tagged()) != 0 {
		t.Errorf("a failed build pushed %q; tags %q", b.pushes, e.reg.tagged())
	}
}

func TestCancelledBuildPushesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	b := newBuilder(e.reg)
	b.buildFail = func(ctx context.Context, s build.Spec) error {
		cancel() // a signal arrives during the build
		<-ctx.Done()
		return ctx.Err()
	}
	o := e.run(ctx, b, e.input())
	if !errors.Is(o.err, context.Canceled) {
		t.Fatalf("Run() = %v, want cancelled", o.err)
	}
	if len(b.pushes) != 0 || len(e.reg.tagged()) != 0 {
		t.Errorf("a cancelled run pushed %q; tags %q", b.pushes, e.reg.tagged())
	}
}

func TestBackgroundWork(t *testing.T) {
	t.Parallel()
	t.Run("a cache that is not stored is a warning", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		b := newBuilder(e.reg)
		b.pushFail = func(ref string, _ int) error {
			if strings.Contains(ref, ":buildcache-") {
				return errors.New("denied: the cache's push was refused")
			}
			return nil
		}
		o := e.run(t.Context(), b, e.input())
		mustSucceed(t, o)
		if !o.log.has(pipeline.Warning, "storing the build cache") {
			t.Errorf("no warning:\n%s", o.log.text())
		}
	})
	t.Run("cancelled when the run fails", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		b := newBuilder(e.reg)
		storing := make(chan struct{})
		var sawCancel atomic.Bool
		b.pushFail = func(ref string, _ int) error {
			switch {
			case strings.Contains(ref, ":buildcache-"):
				close(storing)
				// Hold the cache's push until the run fails and cancels it.
				for i := 0; i < 1000 && !sawCancel.Load(); i++ {
					time.Sleep(time.Millisecond)
				}
				return context.Canceled
			case strings.Contains(ref, ":msb-staging-"):
				<-storing
				return errors.New("denied: refused")
			}
			return nil
		}
		p := &pipeline.Pipeline{Builder: b, Publisher: e.reg, Log: &fakeLog{}, Now: e.now, Pause: func(context.Context, int) error { return nil }}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		context.AfterFunc(ctx, func() { sawCancel.Store(true) })
		_, err := p.Run(ctx, e.input())
		if err == nil {
			t.Fatal("Run() succeeded, want the push's failure")
		}
		// Run returned, so the background push has ended: its tries were
		// made under the run's context, which was not cancelled by the
		// test; the run cancelled its own copy.
		if len(e.reg.tagged()) != 0 && e.reg.digestOf("v1") != "" {
			t.Errorf("tags after a failed run: %q", e.reg.tagged())
		}
	})
}

func TestNoPushTouchesNoRegistry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Push = false }))
	mustSucceed(t, o)
	if len(o.b.pushes) != 0 || len(o.b.pulls) != 0 || len(e.reg.calls) != 0 {
		t.Errorf("push: false pushed %q, pulled %q, called %q", o.b.pushes, o.b.pulls, e.reg.calls)
	}
	if o.res.ImageID == "" || o.res.Digest != "" || o.res.CacheKey == "" {
		t.Errorf("result %+v: want an image id and a cache key, no digest", o.res)
	}
}

func TestCacheOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Cache = false }))
	mustSucceed(t, o)
	for _, tag := range e.reg.tagged() {
		if strings.HasPrefix(tag, "buildcache-") || strings.HasPrefix(tag, "msb-") {
			t.Errorf("cache: false left %s", tag)
		}
	}
	if o.res.CacheKey != "" || len(o.b.pulls) != 0 {
		t.Errorf("cache: false computed key %q and pulled %q", o.res.CacheKey, o.b.pulls)
	}
	for _, s := range o.b.builds {
		if s.InlineCache {
			t.Errorf("target %q built with inline cache", s.Target)
		}
	}
}

// TestMissingRepositoryStopsTheBuild: the repository is checked beside the
// build (its round trips overlap the build); a missing one that may not be
// created cancels the build, and the run says why, pushing nothing.
// When the skip's lookup already found the repository missing, the run
// fails before it builds.
func TestMissingRepositoryStopsTheBuild(t *testing.T) {
	t.Parallel()
	for _, cache := range []bool{true, false} {
		e := newEnv(t, nil)
		b := newBuilder(e.reg)
		b.buildFail = func(ctx context.Context, _ build.Spec) error {
			<-ctx.Done() // a long build, which only the cancellation ends
			return ctx.Err()
		}
		o := e.run(t.Context(), b, e.input(func(in *pipeline.Input) { in.CreateRepository, in.Cache = false, cache }))
		if !errors.Is(o.err, registry.ErrRepositoryMissing) {
			t.Fatalf("cache %v: Run() = %v, want ErrRepositoryMissing", cache, o.err)
		}
		if len(o.b.pushes) != 0 {
			t.Errorf("cache %v: pushed %q to a missing repository", cache, o.b.pushes)
		}
		if cache && len(o.b.builds) != 0 {
			t.Errorf("built %q after the lookup found the repository missing", o.b.targets())
		}
	}
}

func TestUnresolvedBaseTurnsSkipOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), nil, e.input()))
	b := newBuilder(e.reg)
	delete(b.bases, "busybox:1") // neither on the runner nor in a registry
	delete(b.published, "busybox:1")
	o := e.run(t.Context(), b, e.input())
	mustSucceed(t, o)
	if o.res.Skipped || len(b.builds) == 0 {
		t.Error("skipped although a base image could not be resolved")
	}
	if !o.log.has(pipeline.Notice, "building without looking for an identical image") {
		t.Errorf("no notice:\n%s", o.log.text())
	}
}

func TestMovedBaseRebuilds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), nil, e.input()))
	b := newBuilder(e.reg)
	b.bases["busybox:1"] = sum("busybox, a newer one")
	o := e.run(t.Context(), b, e.input())
	mustSucceed(t, o)
	if o.res.Skipped {
		t.Error("skipped although a base image's tag moved")
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	for _, tc := range []struct {
		name, input string
		files       map[string]string
		mod         func(*pipeline.Input)
	}{
		{"unknown target", "target", nil, func(in *pipeline.Input) { in.Target = "nope" }},
		{"build stage is the target", "build-stage", nil, func(in *pipeline.Input) { in.BuildStage = "runtime" }},
		{"unknown build stage", "build-stage", nil, func(in *pipeline.Input) { in.BuildStage = "nope" }},
		{"context outside the workspace", "context", nil, func(in *pipeline.Input) { in.Context = outside }},
		{"missing context", "context", nil, func(in *pipeline.Input) { in.Context += "/nope" }},
		{"file is a directory", "file", nil, func(in *pipeline.Input) { in.File = in.Context }},
		{"key files match nothing", "cache-key-files", nil, func(in *pipeline.Input) { in.CacheKeyFiles = []string{"**/*.csproj"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.files)
			o := e.run(t.Context(), nil, e.input(tc.mod))
			var ie *pipeline.InputError
			if !errors.As(o.err, &ie) || ie.Input != tc.input {
				t.Fatalf("Run() = %v, want an input error naming %s", o.err, tc.input)
			}
			if len(o.b.builds) != 0 || len(e.reg.calls) != 0 {
				t.Errorf("bad input built %q and called the registry %q", o.b.targets(), e.reg.calls)
			}
		})
	}
}

func TestDockerfileSyntaxErrorPointsAtItsLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"Dockerfile": "FROM busybox:1\nRUNN echo\n"})
	o := e.run(t.Context(), nil, e.input())
	if o.err == nil || len(o.b.builds) != 0 {
		t.Fatalf("Run() = %v, built %q; want a failure before any build", o.err, o.b.targets())
	}
	var de *pipeline.DockerfileError
	if !errors.As(o.err, &de) || de.Line != 2 || de.File != "Dockerfile" || de.Error() != "unknown instruction: RUNN (did you mean RUN?)" {
		t.Errorf("Run() = %#v, want a DockerfileError at line 2 saying what is wrong there", o.err)
	}
	if len(o.log.notes) != 0 {
		t.Errorf("notes %+v: the front end reports the error, once", o.log.notes)
	}
}

func TestSingleStage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{"Dockerfile": "FROM busybox:1\nCOPY . /app\n", "app.txt": "hi\n"})
	o := e.run(t.Context(), nil, e.input())
	mustSucceed(t, o)
	if got := o.b.targets(); !slices.Equal(got, []string{""}) {
		t.Errorf("built %q, want the last stage alone", got)
	}
	if !o.log.has(pipeline.Notice, "copies from no build stage") || o.res.BuildStage != "" {
		t.Errorf("no single-stage notice, or a build stage %q", o.res.BuildStage)
	}
}

func TestSecretsAreMaskedBeforeUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.reg.ttl = time.Minute // several logins, each masked before it is used
	b := newBuilder(e.reg)
	b.pushFail = func(ref string, try int) error {
		if try == 1 {
			// A line the run says with the password in it (an adapter's
			// error, logged before a retry) is safe only once it is masked.
			return fmt.Errorf("unauthorized: %s-1 refused: %w", e.reg.password, errTransient)
		}
		return nil
	}
	// run fails the test when any line held a secret not yet masked.
	o := e.run(t.Context(), b, e.input())
	mustSucceed(t, o)
	if !strings.Contains(o.log.text(), e.reg.password+"-1") {
		t.Fatal("the test's line with the password was never said: it proves nothing")
	}
	if e.reg.logins < 3 || len(o.log.masked) != e.reg.logins {
		t.Errorf("%d logins, %d passwords masked; want every one of several masked", e.reg.logins, len(o.log.masked))
	}
}
