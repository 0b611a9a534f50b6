package pipeline_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/pipeline"
)

// pullRequest makes an input a pull request's run: no branch of its own,
// the default branch as its base, and no write.
func pullRequest(tags ...string) func(*pipeline.Input) {
	return func(in *pipeline.Input) {
		in.CacheWrite = false
		in.Commit.Branch = ""
		in.Commit.BaseBranch = "main"
		in.Tags = tags
	}
}

// ownTags are the repository's tags that later runs read (caches, branch
// pointers, records), with their digests.
func ownTags(f *fakeRegistry) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for tag, d := range f.tags {
		if _, ok := cache.ReservedTagPrefix(tag); ok && !strings.HasPrefix(tag, cache.StagingTagPrefix) {
			out[tag] = d
		}
	}
	return out
}

// TestPullRequestReadsTrustedCachesAndWritesNone is the trust model with
// fakes: a pull request starts from the default branch's caches (a hit when
// its dependencies are the same), and with new dependencies builds and
// pushes its image but no cache, pointer or record; the default branch's
// next run with the same inputs then neither hits a cache of the pull
// request's nor skips onto its image, and writes its own.
func TestPullRequestReadsTrustedCachesAndWritesNone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), nil, e.input()))
	trusted := ownTags(e.reg)
	latest := e.reg.digestOf("latest")

	// The same dependencies: the default branch's cache is a hit.
	e.write("main.go", "package main\n\nfunc main() { println(1) }\n")
	same := e.run(t.Context(), nil, e.input(pullRequest("pr-12-a")))
	mustSucceed(t, same)
	if !same.res.CacheHit {
		t.Errorf("a pull request with the default branch's dependencies: cache-hit false, want a hit on the default branch's cache; log:\n%s", same.log.text())
	}
	if rt, _ := same.b.spec("runtime"); !slices.Contains(rt.CacheFrom, ref(cache.RuntimeCacheTag("main"))) {
		t.Errorf("the pull request's runtime cache-from %q lacks the default branch's runtime cache", rt.CacheFrom)
	}

	// New dependencies: a miss that starts from the default branch's cache.
	e.write("go.sum", "dep v1 h1:abc=\nevil v6.6.6 h1:bad=\n")
	pr := e.run(t.Context(), nil, e.input(pullRequest("pr-12-b")))
	mustSucceed(t, pr)
	if pr.res.CacheHit || pr.res.Skipped {
		t.Errorf("the pull request with new dependencies: cache-hit %v, skipped %v; want neither", pr.res.CacheHit, pr.res.Skipped)
	}
	if bs, _ := pr.b.spec("build"); !slices.Contains(bs.CacheFrom, ref(cache.BranchCacheTag("main"))) {
		t.Errorf("the pull request's build stage cache-from %q, want the default branch's cache", bs.CacheFrom)
	}
	for _, o := range []outcome{same, pr} {
		for _, p := range o.b.pushes {
			if !strings.Contains(p, ":"+cache.StagingTagPrefix) {
				t.Errorf("a pull request pushed %s: only its image, under its staging tag, may be pushed", p)
			}
		}
	}
	if diff := cmp.Diff(trusted, ownTags(e.reg)); diff != "" {
		t.Errorf("the pull requests changed the tags later runs read (-before +after):\n%s", diff)
	}
	if got := e.reg.digestOf("latest"); got != latest {
		t.Errorf("a pull request moved latest to %s", got)
	}
	if e.reg.digestOf("pr-12-b") != pr.res.Digest || pr.res.Digest == "" {
		t.Errorf("pr-12-b at %s, want the pull request's image %s", e.reg.digestOf("pr-12-b"), pr.res.Digest)
	}
	noStaging(t, e.reg)

	// The default branch, the same inputs: its own build and its own cache.
	e.write("main.go", "package main\n\nfunc main() { println(1) }\n")
	main := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"v2", "latest"} }))
	mustSucceed(t, main)
	if main.res.CacheHit || main.res.Skipped {
		t.Errorf("the default branch after the pull request: cache-hit %v, skipped %v; want neither", main.res.CacheHit, main.res.Skipped)
	}
	if main.res.CacheKey != pr.res.CacheKey {
		t.Fatalf("cache keys differ (%s, %s): the test needs the same inputs", main.res.CacheKey, pr.res.CacheKey)
	}
	if got, want := main.b.targets(), []string{"build", "runtime"}; !slices.Equal(got, want) || len(main.b.pushes) == 0 {
		t.Errorf("the default branch built %q and pushed %q; want %q built (a miss) and pushed", got, main.b.pushes, want)
	}
	if e.reg.digestOf(cache.CacheTag(cache.Key{Hex: main.res.CacheKey})) == "" {
		t.Errorf("the default branch did not store its own cache; tags: %q", e.reg.tagged())
	}
}

// TestPullRequestSkipsOntoTrustedImage: identical inputs to the default
// branch's last run skip, attaching the pull request's tag to the trusted
// image and writing no record.
func TestPullRequestSkipsOntoTrustedImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	first := e.run(t.Context(), nil, e.input())
	mustSucceed(t, first)
	before := ownTags(e.reg)
	o := e.run(t.Context(), nil, e.input(pullRequest("pr-7")))
	mustSucceed(t, o)
	if !o.res.Skipped || e.reg.digestOf("pr-7") != first.res.Digest {
		t.Errorf("skipped %v, pr-7 at %s; want a skip onto %s", o.res.Skipped, e.reg.digestOf("pr-7"), first.res.Digest)
	}
	if diff := cmp.Diff(before, ownTags(e.reg)); diff != "" {
		t.Errorf("a skipping pull request changed the tags later runs read (-before +after):\n%s", diff)
	}
}

// TestUnprotectedBranchWritesNoBranchCache: an unprotected branch (no
// write) reads its default branch's cache and sets no pointer of its own,
// so no branch name, a real one or one chosen to collide, gets one.
func TestUnprotectedBranchWritesNoBranchCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), nil, e.input()))
	before := ownTags(e.reg)
	e.write("go.sum", "dep v2 h1:def=\n")
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) {
		in.CacheWrite, in.Commit.Branch, in.Tags = false, "feature/x", []string{"feature-x"}
	}))
	mustSucceed(t, o)
	if diff := cmp.Diff(before, ownTags(e.reg)); diff != "" {
		t.Errorf("an unprotected branch changed the tags later runs read (-before +after):\n%s", diff)
	}
}

// TestCacheWriteAlways: a run told to write (cache-write: always) on a pull
// request stores the key's cache and the skip record; having no branch, it
// points no branch tag.
func TestCacheWriteAlways(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	o := e.run(t.Context(), nil, e.input(pullRequest("pr-1"), func(in *pipeline.Input) { in.CacheWrite = true }))
	mustSucceed(t, o)
	got := slices.Sorted(maps.Keys(ownTags(e.reg)))
	if len(got) != 2 || !strings.HasPrefix(got[0], "buildcache-") || !strings.HasPrefix(got[1], cache.SkipTagPrefix) {
		t.Errorf("tags later runs read: %q, want the key's cache and a skip record only", got)
	}
}

// TestNoticesAreSaid: the front end's notices reach the log as notices.
func TestNoticesAreSaid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Notices = []string{"cache-write: this pull request 1 writes none"} }))
	mustSucceed(t, o)
	if !o.log.has(pipeline.Notice, "this pull request 1 writes none") {
		t.Errorf("the notice was not said; log:\n%s", o.log.text())
	}
}
