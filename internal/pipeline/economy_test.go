package pipeline_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/pipeline"
	"github.com/org/ms-build-action/internal/registry"
)

// TestSkipEconomy: a skip on a fresh runner is one lookup and one put per
// tag that moves, with no login, no repository check, and nothing pushed or
// pulled by the builder. Its outputs name the image as the build did.
func TestSkipEconomy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		tags     []string
		maxCalls int
	}{
		{name: "same tags again", tags: []string{"v1", "latest"}, maxCalls: 1},
		{name: "one new tag", tags: []string{"v2", "latest"}, maxCalls: 2},
		{name: "two new tags", tags: []string{"v2", "stable"}, maxCalls: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			first := e.run(t.Context(), nil, e.input())
			mustSucceed(t, first)
			before := len(e.reg.callLog())
			o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = tc.tags }))
			mustSucceed(t, o)
			calls := e.reg.callLog()[before:]
			if !o.res.Skipped {
				t.Fatalf("Skipped = false, want a skip; calls %q", calls)
			}
			if len(calls) > tc.maxCalls {
				t.Errorf("a skip made %d calls %q, want at most %d", len(calls), calls, tc.maxCalls)
			}
			for _, c := range calls {
				if op, _, _ := strings.Cut(c, " "); op != "Lookup" && op != "Put" {
					t.Errorf("a skip called %q: want only Lookup and Put", c)
				}
			}
			if len(o.b.pushes)+len(o.b.pulls)+len(o.b.builds) != 0 {
				t.Errorf("the builder built %q, pushed %q, pulled %q on a skip", o.b.targets(), o.b.pushes, o.b.pulls)
			}
			if o.res.Digest != first.res.Digest || o.res.ImageSizeBytes != first.res.ImageSizeBytes || o.res.ImageID != first.res.ImageID {
				t.Errorf("skip reported %s (%d bytes, id %s), want the built image's %s (%d bytes, id %s)",
					o.res.Digest, o.res.ImageSizeBytes, o.res.ImageID, first.res.Digest, first.res.ImageSizeBytes, first.res.ImageID)
			}
			if got, want := o.res.ImageURI, first.res.ImageURI; got != want {
				t.Errorf("ImageURI = %s, want %s", got, want)
			}
			var want []string
			for _, tag := range tc.tags {
				want = append(want, ref(tag))
				if d := e.reg.digestOf(tag); d != first.res.Digest {
					t.Errorf("tag %s points at %s, want %s", tag, d, first.res.Digest)
				}
			}
			if diff := cmp.Diff(want, o.res.Tags); diff != "" {
				t.Errorf("Tags (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSkipMissingRepositoryBuilds: a missing repository is no skip (the
// lookup proves it) and the build then logs in and creates it.
func TestSkipMissingRepositoryBuilds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	o := e.run(t.Context(), nil, e.input())
	mustSucceed(t, o)
	if o.res.Skipped {
		t.Fatal("skipped in a repository that did not exist")
	}
	calls := e.reg.callLog()
	if len(calls) == 0 || !strings.HasPrefix(calls[0], "Lookup ") {
		t.Errorf("first call %q, want the skip's lookup", calls)
	}
	if e.reg.count("Login") != 1 || e.reg.count("Repository") != 1 {
		t.Errorf("a build made %d logins and %d repository checks, want 1 each", e.reg.count("Login"), e.reg.count("Repository"))
	}
	if e.reg.count("Tagged") != 0 {
		t.Error("swept a repository the run just created")
	}
}

// TestLeftoverStagingTags: a build untags the staging tags that runs which
// crashed left more than an hour ago, whether their age is in their name or
// only in their image's push time, and keeps younger ones (a concurrent run
// may be publishing through one). A skip does not look.
func TestLeftoverStagingTags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	start := e.now()
	img := registry.Manifest{Body: []byte(`{"schemaVersion":2,"config":{"digest":"sha256:c0"},"layers":[{"size":7}]}`), MediaType: cache.MediaTypeOCIManifest}
	old := cache.StagingTagPrefix + "0123456789abcdef-" + itoa(start.Add(-2*time.Hour).Unix())
	oldUnnamed := cache.StagingTagPrefix + "fedcba9876543210"
	young := cache.StagingTagPrefix + "00112233445566ff-" + itoa(start.Add(-10*time.Minute).Unix())
	youngUnnamed := cache.StagingTagPrefix + "ffeeddccbbaa9988"
	e.reg.tagAt(old, img, start.Add(-2*time.Hour))
	e.reg.tagAt(oldUnnamed, img, start.Add(-3*time.Hour))
	e.reg.tagAt(young, img, start.Add(-10*time.Minute))
	e.reg.tagAt(youngUnnamed, img, start.Add(-20*time.Minute))
	e.reg.tagAt("v0", img, start.Add(-48*time.Hour))

	o := e.run(t.Context(), nil, e.input())
	mustSucceed(t, o)
	tags := e.reg.tagged()
	for _, gone := range []string{old, oldUnnamed} {
		if slices.Contains(tags, gone) {
			t.Errorf("leftover %s older than an hour is still there", gone)
		}
	}
	for _, kept := range []string{young, youngUnnamed, "v0"} {
		if !slices.Contains(tags, kept) {
			t.Errorf("%s (younger than an hour, or no staging tag) was removed", kept)
		}
	}
	if n := e.reg.count("Tagged"); n != 1 {
		t.Errorf("listed the tags %d times, want once", n)
	}
	if !strings.Contains(o.log.text(), "left by a run that did not finish") {
		t.Errorf("the log does not say what was swept:\n%s", o.log.text())
	}

	// The same inputs again: a skip, which lists nothing.
	n := e.reg.count("Tagged")
	mustSucceed(t, e.run(t.Context(), nil, e.input()))
	if e.reg.count("Tagged") != n {
		t.Error("a skip listed the repository's tags")
	}
}

// TestImmutableWithExclusion: in an IMMUTABLE_WITH_EXCLUSION repository
// that excludes latest, the caches and the action's own tags, a later build
// moves latest, the branch's caches and the records, and a release tag that
// exists stays where it is (the run fails saying so).
func TestImmutableWithExclusion(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.reg.exists, e.reg.immutable = true, true
	e.reg.exclusions = []string{"latest", cache.CacheTagPrefix + "*", cache.SkipTagPrefix + "*", cache.StagingTagPrefix + "*"}
	first := e.run(t.Context(), nil, e.input())
	mustSucceed(t, first)
	runtime := cache.RuntimeCacheTag("main")
	if e.reg.digestOf(runtime) == "" {
		t.Fatalf("no runtime cache %s in a repository that keeps cache tags movable; tags %q", runtime, e.reg.tagged())
	}
	firstRuntime := e.reg.digestOf(runtime)

	e.write("main.go", "package main // changed\n")
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"v2", "latest"} }))
	mustSucceed(t, o)
	if o.res.Digest == first.res.Digest {
		t.Fatal("a changed source built the same image")
	}
	if got := e.reg.digestOf("latest"); got != o.res.Digest {
		t.Errorf("latest points at %s, want the new image %s", got, o.res.Digest)
	}
	if got := e.reg.digestOf(runtime); got == firstRuntime || got == "" {
		t.Errorf("the runtime cache %s did not move (%s)", runtime, got)
	}
	if got := e.reg.digestOf("v1"); got != first.res.Digest {
		t.Errorf("v1 points at %s, want %s", got, first.res.Digest)
	}

	e.write("main.go", "package main // changed again\n")
	o = e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"v1"} }))
	if o.err == nil || !strings.Contains(o.err.Error(), "v1") {
		t.Errorf("Run() moving release tag v1 = %v, want an error naming it", o.err)
	}
	if got := e.reg.digestOf("v1"); got != first.res.Digest {
		t.Errorf("v1 moved to %s in an immutable repository", got)
	}

	// A second patch release with floating tags: 1.2 cannot move, and the
	// run says so before it attaches 1.2.5 or moves latest.
	v1, err := e.reg.Manifest(t.Context(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.reg.Put(t.Context(), "1.2", v1); err != nil { // as release 1.2.4 left it
		t.Fatal(err)
	}
	before := e.reg.digestOf("latest")
	o = e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"1.2.5", "latest", "1.2"} }))
	var ie *pipeline.InputError
	if !errors.As(o.err, &ie) || ie.Input != "tags" || !strings.Contains(ie.Msg, "1.2 already point") || !strings.Contains(ie.Msg, "no tag was attached") {
		t.Errorf("Run() moving 1.2 in an immutable repository = %v, want an input error on tags naming 1.2", o.err)
	}
	if e.reg.digestOf("1.2.5") != "" || e.reg.digestOf("latest") != before {
		t.Errorf("a run that could not move 1.2 attached 1.2.5 (%q) or moved latest; err %v; log:\n%s", e.reg.digestOf("1.2.5"), o.err, o.log.text())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
