package pipeline_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/pipeline"
)

// callsSince lists the registry calls made after the first n.
func (f *fakeRegistry) callsSince(n int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls[n:])
}

func (f *fakeRegistry) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// TestNoCache: a no-cache run builds every step although an identical image
// is recorded, reads no cache and skip record, and writes none; it still
// publishes its image.
func TestNoCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), nil, e.input()))
	branchCache, runtimeCache := e.reg.digestOf(cache.BranchCacheTag("main")), e.reg.digestOf(cache.RuntimeCacheTag("main"))
	if branchCache == "" || runtimeCache == "" {
		t.Fatalf("the first run left no branch caches: %q", e.reg.tagged())
	}
	before, tagsBefore := e.reg.callCount(), e.reg.tagged()

	// The same inputs: without no-cache this run would be skipped.
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.NoCache = true; in.Tags = []string{"fresh"} }))
	mustSucceed(t, o)
	if o.res.Skipped || len(o.b.builds) == 0 {
		t.Errorf("skipped %v, built %q: want a build although a record of the same inputs exists", o.res.Skipped, o.b.targets())
	}
	if o.res.CacheHit || o.res.CacheKey != "" {
		t.Errorf("cache-hit %v, cache-key %q: want false and none, no cache being keyed", o.res.CacheHit, o.res.CacheKey)
	}
	for _, c := range e.reg.callsSince(before) {
		op, tag, _ := strings.Cut(c, " ")
		if strings.HasPrefix(tag, "buildcache-") || strings.HasPrefix(tag, "msb-skip-") {
			t.Errorf("no-cache run called %s %s", op, tag)
		}
	}
	if len(o.b.pulls) != 0 || len(o.b.resolved) != 0 {
		t.Errorf("no-cache run pulled %q and resolved bases %v for a skip key", o.b.pulls, o.b.resolved)
	}
	for _, p := range o.b.pushes {
		if !strings.Contains(p, ":msb-staging-") {
			t.Errorf("no-cache run pushed %s: only the image may be pushed", p)
		}
	}
	var added []string
	for _, tag := range e.reg.tagged() {
		if !slices.Contains(tagsBefore, tag) {
			added = append(added, tag)
		}
	}
	if !slices.Equal(added, []string{"fresh"}) {
		t.Errorf("no-cache run added tags %q, want only the requested one", added)
	}
	if e.reg.digestOf(cache.BranchCacheTag("main")) != branchCache || e.reg.digestOf(cache.RuntimeCacheTag("main")) != runtimeCache {
		t.Error("no-cache run moved the branch's caches")
	}
	if o.res.Digest == "" || o.res.Digest != e.reg.digestOf("fresh") {
		t.Errorf("digest %q; the registry has fresh at %q", o.res.Digest, e.reg.digestOf("fresh"))
	}
	noStaging(t, e.reg)

	rt, ok := o.b.spec("runtime")
	if !ok || !rt.NoCache || rt.InlineCache || len(rt.CacheFrom) != 0 {
		t.Errorf("runtime spec: no-cache %v, inline cache %v, cache-from %q; want true, false, none", rt.NoCache, rt.InlineCache, rt.CacheFrom)
	}
	// The build stage's steps ran in the runtime's build; it is then built
	// only to export and size it, from those steps, not all over again.
	if got, want := o.b.targets(), []string{"runtime", "build"}; !slices.Equal(got, want) {
		t.Errorf("built %q, want %q", got, want)
	}
	if bs, _ := o.b.spec("build"); bs.NoCache || bs.InlineCache || len(bs.CacheFrom) != 0 {
		t.Errorf("build stage spec: no-cache %v, inline cache %v, cache-from %q; want false, false, none", bs.NoCache, bs.InlineCache, bs.CacheFrom)
	}
	if o.res.BuildStageSizeBytes != 500_000 {
		t.Errorf("build-stage-size-bytes %d, want the stage sized", o.res.BuildStageSizeBytes)
	}
}

// TestPullFollowsMovedTag: a base image's tag moves in its registry while
// the runner keeps the old image. Without pull the build uses the runner's
// image, so the run is rightly skipped; with pull it builds on the new one.
func TestPullFollowsMovedTag(t *testing.T) {
	t.Parallel()
	for _, pull := range []bool{false, true} {
		t.Run(map[bool]string{false: "without pull", true: "with pull"}[pull], func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			withPull := func(in *pipeline.Input) { in.Pull = pull }
			first := e.run(t.Context(), nil, e.input(withPull))
			mustSucceed(t, first)

			b := newBuilder(e.reg) // the same local images as before
			b.published["busybox:1"] = sum("busybox manifest, a newer one")
			o := e.run(t.Context(), b, e.input(withPull, func(in *pipeline.Input) { in.Tags = []string{"again"} }))
			mustSucceed(t, o)
			if o.res.Skipped == pull {
				t.Errorf("skipped = %v, want %v", o.res.Skipped, !pull)
			}
			if pull && len(b.builds) == 0 {
				t.Error("nothing was built on the moved base")
			}
			if !pull && o.res.Digest != first.res.Digest {
				t.Errorf("digest %s, want the recorded image's %s", o.res.Digest, first.res.Digest)
			}
			for _, r := range b.resolved {
				if r.remote != pull {
					t.Errorf("base %s resolved with remote %v, want %v", r.ref, r.remote, pull)
				}
			}
			for _, s := range b.builds {
				if s.Pull != pull {
					t.Errorf("target %q built with pull %v, want %v", s.Target, s.Pull, pull)
				}
			}
		})
	}
}

// keychain answers for registries other than the one pushed to.
type keychain map[string]build.Auth

func (k keychain) Credentials(_ context.Context, host string) (build.Auth, error) {
	return k[host], nil
}

// TestBaseImageLogins: each base image is resolved with the login for its
// own registry, and no other: the run's own for the registry it pushes to,
// the keychain's for any other, none where the keychain has none.
func TestBaseImageLogins(t *testing.T) {
	t.Parallel()
	own := newRegistry(nil).host
	e := newEnv(t, map[string]string{
		"Dockerfile": "FROM " + own + "/team/sdk:1 AS build\nRUN make\nFROM ghcr.io/acme/tools:2 AS tools\nFROM busybox:1\nCOPY --from=build /out /app\nCOPY --from=tools /t /t\n",
		"go.mod":     "module app\n",
	})
	b := newBuilder(e.reg)
	b.published[own+"/team/sdk:1"] = sum("sdk")
	b.published["ghcr.io/acme/tools:2"] = sum("tools")
	hub := build.Auth{Host: "docker.io", Username: "hubuser", Password: "hub-token"}
	log := &fakeLog{secrets: e.reg.passwords}
	p := &pipeline.Pipeline{Builder: b, Publisher: e.reg, Log: log, Now: e.now, Keychain: keychain{"docker.io": hub}, Pause: func(context.Context, int) error { return nil }}
	if _, err := p.Run(t.Context(), e.input(func(in *pipeline.Input) { in.Pull = true })); err != nil {
		t.Fatalf("Run() = %v; log:\n%s", err, log.text())
	}
	got := map[string]build.Auth{}
	for _, r := range b.resolved {
		got[r.ref] = r.auth
	}
	if a := got[own+"/team/sdk:1"]; a.Host != own || !slices.Contains(e.reg.passwords(), a.Password) {
		t.Errorf("the base in the registry pushed to got %+v, want the run's own login", a)
	}
	if a := got["busybox:1"]; a != hub {
		t.Errorf("the Docker Hub base got %+v, want the keychain's %+v", a, hub)
	}
	if a, ok := got["ghcr.io/acme/tools:2"]; !ok || a != (build.Auth{}) {
		t.Errorf("the base in a registry the keychain does not know got %+v (resolved %v), want no login", a, ok)
	}
}
