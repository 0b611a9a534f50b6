package pipeline_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/pipeline"
)

var (
	// mainLayers are the default branch's image; prLayers a pull request's
	// that grew: a layer added, one grown, one shrunk, one removed.
	mainLayers = []fakeLayer{{"ADD rootfs.tar /", 1000}, {"RUN make", 4000}, {"COPY docs /docs", 300}, {"RUN rm -rf /tmp", 50}}
	prLayers   = []fakeLayer{{"ADD rootfs.tar /", 1000}, {"RUN make", 5000}, {"RUN apt-get install big", 6000}, {"COPY docs /docs", 200}}
)

// growEnv has the default branch's image built and recorded; the next
// run's context differs, so that it builds rather than skips.
func growEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, nil)
	b := newBuilder(e.reg)
	b.layers = mainLayers
	mustSucceed(t, e.run(t.Context(), b, e.input()))
	e.write("main.go", "package main\n\nfunc main() {}\n")
	return e
}

func prBuilder(e *env) *fakeBuilder {
	b := newBuilder(e.reg)
	b.layers = prLayers
	return b
}

// TestSizeChange: a pull request's image is compared with the default
// branch's current image, found in the skip's one lookup: the delta, and
// the layers that changed most, largest first, matched by what made them.
func TestSizeChange(t *testing.T) {
	t.Parallel()
	e := growEnv(t)
	before := e.reg.callCount()
	o := e.run(t.Context(), prBuilder(e), e.input(pullRequest("pr-7")))
	mustSucceed(t, o)
	c := o.res.SizeChange
	if c == nil {
		t.Fatalf("no size change reported; log:\n%s", o.log.text())
	}
	if got, want := c.DeltaBytes, int64(12200-5350); got != want {
		t.Errorf("DeltaBytes = %d, want %d", got, want)
	}
	if got, want := c.BaseSize, int64(5350); got != want {
		t.Errorf("BaseSize = %d, want %d", got, want)
	}
	if !strings.Contains(c.Base, "main") || !strings.HasPrefix(c.BaseRef, e.reg.host+"/team/app@sha256:") {
		t.Errorf("Base %q, BaseRef %q: want the main branch's image in the repository", c.Base, c.BaseRef)
	}
	want := []pipeline.LayerChange{
		{CreatedBy: "RUN apt-get install big", After: 6000, Kind: pipeline.LayerAdded},
		{CreatedBy: "RUN make", Before: 4000, After: 5000, Kind: pipeline.LayerGrown},
		{CreatedBy: "COPY docs /docs", Before: 300, After: 200, Kind: pipeline.LayerShrunk},
		{CreatedBy: "RUN rm -rf /tmp", Before: 50, Kind: pipeline.LayerRemoved},
	}
	if diff := cmp.Diff(want, c.Layers); diff != "" {
		t.Errorf("Layers (-want +got):\n%s", diff)
	}
	// The budget: the default branch's image came with the skip's lookup,
	// and the two configs are one read each.
	var lookups, blobs int
	for _, call := range e.reg.callsSince(before) {
		switch op, refs, _ := strings.Cut(call, " "); op {
		case "Lookup":
			lookups++
			if !strings.Contains(refs, cache.RuntimeCacheTag("main")) || !strings.Contains(refs, "latest") {
				t.Errorf("the lookup %q does not ask for the default branch's image", refs)
			}
		case "Blob":
			blobs++
		}
	}
	if lookups != 1 || blobs != 2 {
		t.Errorf("%d lookups and %d blob reads, want 1 and 2: %q", lookups, blobs, e.reg.callsSince(before))
	}
}

// TestSizeChangeWithoutSkip: a run that reads no records (cache off) finds
// the default branch's image through latest, with one lookup of its own.
func TestSizeChangeWithoutSkip(t *testing.T) {
	t.Parallel()
	e := growEnv(t)
	before := e.reg.callCount()
	o := e.run(t.Context(), prBuilder(e), e.input(pullRequest("pr-7"), func(in *pipeline.Input) { in.Cache = false }))
	mustSucceed(t, o)
	if c := o.res.SizeChange; c == nil || c.Base != "latest" || c.DeltaBytes != 12200-5350 {
		t.Fatalf("SizeChange = %+v, want the delta against latest", c)
	}
	var lookups []string
	for _, call := range e.reg.callsSince(before) {
		if op, refs, _ := strings.Cut(call, " "); op == "Lookup" {
			lookups = append(lookups, refs)
		}
	}
	if diff := cmp.Diff([]string{"latest"}, lookups); diff != "" {
		t.Errorf("lookups (-want +got):\n%s", diff)
	}
}

// TestNoBaseImage: the first image of a repository has nothing to be
// compared with: no size change, and max-image-growth passes with a notice.
func TestNoBaseImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.MaxImageGrowth = pipeline.Growth{Bytes: 1} }))
	mustSucceed(t, o)
	if o.res.SizeChange != nil {
		t.Errorf("SizeChange = %+v, want none", o.res.SizeChange)
	}
	if !o.log.has(pipeline.Notice, "no image of the default branch to compare with") {
		t.Errorf("no notice that the growth check passed without a base:\n%s", o.log.text())
	}
	if e.reg.count("Blob") != 0 {
		t.Errorf("read %d blobs with nothing to compare", e.reg.count("Blob"))
	}
}

// TestMaxImageGrowth: growth over the limit, in bytes or in percent of the
// default branch's image, fails before any requested tag is attached, and
// the staging tag goes; growth under it passes.
func TestMaxImageGrowth(t *testing.T) {
	t.Parallel()
	// The pull request's image grows by 6850 bytes on 5350 (128%).
	for _, tc := range []struct {
		name  string
		limit pipeline.Growth
		fail  bool
	}{
		{"bytes over", pipeline.Growth{Bytes: 6849}, true},
		{"bytes at", pipeline.Growth{Bytes: 6850}, false},
		{"percent over", pipeline.Growth{Percent: 100}, true},
		{"percent under", pipeline.Growth{Percent: 130}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := growEnv(t)
			o := e.run(t.Context(), prBuilder(e), e.input(pullRequest("pr-7"), func(in *pipeline.Input) { in.MaxImageGrowth = tc.limit }))
			if !tc.fail {
				mustSucceed(t, o)
				return
			}
			var ie *pipeline.InputError
			if !errors.As(o.err, &ie) || ie.Input != "max-image-growth" {
				t.Fatalf("Run() = %v, want an input error naming max-image-growth", o.err)
			}
			for _, want := range []string{"no tag was attached", "grew by", o.res.SizeChange.BaseRef, "main branch"} {
				if !strings.Contains(ie.Msg, want) {
					t.Errorf("message %q does not say %q", ie.Msg, want)
				}
			}
			if strings.Contains(ie.Msg, "\n") {
				t.Errorf("message %q is more than one line", ie.Msg)
			}
			if e.reg.digestOf("pr-7") != "" || len(o.res.Tags) != 0 {
				t.Errorf("tags attached after a failed growth check: %q", e.reg.tagged())
			}
			noStaging(t, e.reg)
		})
	}
}

// TestSizeChangeBlobFault: a config that cannot be read costs the summary
// its layers, with a warning, and never the run; the growth check holds.
func TestSizeChangeBlobFault(t *testing.T) {
	t.Parallel()
	for _, fail := range []error{errTransient, errors.New("AccessDenied: ecr:GetDownloadUrlForLayer")} {
		e := growEnv(t)
		e.reg.fail = func(op, ref string) error {
			if op == "Blob" {
				return fail
			}
			return nil
		}
		o := e.run(t.Context(), prBuilder(e), e.input(pullRequest("pr-7")))
		mustSucceed(t, o)
		if c := o.res.SizeChange; c == nil || c.DeltaBytes != 12200-5350 || c.Layers != nil {
			t.Errorf("SizeChange = %+v, want the delta without layers", c)
		}
		if !o.log.has(pipeline.Warning, "reading the layers' history") {
			t.Errorf("no warning for the config that could not be read:\n%s", o.log.text())
		}
		o = e.run(t.Context(), prBuilder(e), e.input(pullRequest("pr-8"), func(in *pipeline.Input) { in.MaxImageGrowth = pipeline.Growth{Bytes: 1} }))
		var ie *pipeline.InputError
		if !errors.As(o.err, &ie) || ie.Input != "max-image-growth" || e.reg.digestOf("pr-8") != "" {
			t.Errorf("Run() = %v with pr-8 at %q, want max-image-growth to fail it with no tag", o.err, e.reg.digestOf("pr-8"))
		}
	}
}

// TestSizeChangeOnSkip: a run that skips onto an earlier image compares it
// with the default branch's current image, from the one lookup it makes,
// and reads no config; max-image-growth holds there too.
func TestSizeChangeOnSkip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), prBuilder(e), e.input())) // image A, with prLayers
	e.write("main.go", "package main\n\nfunc main() {}\n")
	b := newBuilder(e.reg)
	b.layers = mainLayers
	mustSucceed(t, e.run(t.Context(), b, e.input(func(in *pipeline.Input) { in.Tags = []string{"v2"} }))) // B, main's current
	e.write("main.go", "package main\n")

	before := e.reg.callCount()
	o := e.run(t.Context(), nil, e.input(pullRequest("pr-9")))
	mustSucceed(t, o)
	if !o.res.Skipped {
		t.Fatalf("not skipped; log:\n%s", o.log.text())
	}
	if c := o.res.SizeChange; c == nil || c.DeltaBytes != 12200-5350 || c.Layers != nil {
		t.Errorf("SizeChange = %+v, want the delta of A against B and no layers", c)
	}
	if calls := e.reg.callsSince(before); len(calls) != 2 || !strings.HasPrefix(calls[0], "Lookup ") || calls[1] != "Put pr-9" {
		t.Errorf("calls %q, want one lookup and the tag's Put: no config read on a skip", calls)
	}
	o = e.run(t.Context(), nil, e.input(pullRequest("pr-10"), func(in *pipeline.Input) { in.MaxImageGrowth = pipeline.Growth{Percent: 10} }))
	var ie *pipeline.InputError
	if !errors.As(o.err, &ie) || ie.Input != "max-image-growth" || e.reg.digestOf("pr-10") != "" {
		t.Errorf("Run() = %v with pr-10 at %q, want max-image-growth to fail the skip with no tag", o.err, e.reg.digestOf("pr-10"))
	}
}

// TestBaseLookupFault: when the lookup that finds the default branch's
// image fails, the run looks again once before the growth check; when
// that fails too, it warns that max-image-growth was not checked.
func TestBaseLookupFault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults int // lookups that fail
		fail   bool
	}{
		{"once", 1, true},
		{"for good", 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := growEnv(t)
			failed := 0
			e.reg.fail = func(op, ref string) error {
				if op == "Lookup" && failed < tc.faults {
					failed++
					return errTransient
				}
				return nil
			}
			o := e.run(t.Context(), prBuilder(e), e.input(pullRequest("pr-7"), func(in *pipeline.Input) { in.MaxImageGrowth = pipeline.Growth{Bytes: 1} }))
			var ie *pipeline.InputError
			if got := errors.As(o.err, &ie) && ie.Input == "max-image-growth"; got != tc.fail {
				t.Fatalf("Run() = %v, want a max-image-growth failure: %v", o.err, tc.fail)
			}
			if !tc.fail {
				mustSucceed(t, o)
				if !o.log.has(pipeline.Warning, "max-image-growth was not checked") || o.log.has(pipeline.Notice, "no image of the default branch") {
					t.Errorf("want a warning that the check did not run, and no notice that there is no image:\n%s", o.log.text())
				}
			}
			if e.reg.count("Lookup") > 3 { // growEnv's, the skip's, and one more
				t.Errorf("%d lookups, want at most 3", e.reg.count("Lookup"))
			}
		})
	}
}
