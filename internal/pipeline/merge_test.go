package pipeline_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/pipeline"
	"github.com/org/ms-build-action/internal/registry"
)

// platformImage puts an image of one platform in the fake registry, as the
// run on that platform's runner pushed it under tag: its manifest (of
// mediaType) and its config. It returns the image's digest.
func platformImage(f *fakeRegistry, tag, mediaType, os, arch, variant string, layer int64) string {
	config := fmt.Sprintf(`{"architecture":%q,"os":%q,"variant":%q,"rootfs":{"type":"layers","diff_ids":[]}}`, arch, os, variant)
	cfgType, layerType := "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip"
	if mediaType == cache.MediaTypeDockerManifest {
		cfgType, layerType = "application/vnd.docker.container.image.v1+json", "application/vnd.docker.image.rootfs.diff.tar.gzip"
	}
	body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		mediaType, cfgType, sum(config), len(config), layerType, sum(tag+"|layer"), layer)
	m := registry.Manifest{Body: []byte(body), MediaType: mediaType}
	f.tagAt(tag, m, time.Unix(1_700_000_000, 0))
	f.mu.Lock()
	f.blobs[sum(config)] = []byte(config)
	f.mu.Unlock()
	return m.Digest()
}

// mergeEnv is a repository holding the images two runs pushed: amd64 and
// arm64 (Docker manifests, as the engine pushes).
type mergeEnv struct {
	reg          *fakeRegistry
	amd64, arm64 string
	before       []string // the repository's tags before the merge
}

func newMergeEnv(t *testing.T) *mergeEnv {
	t.Helper()
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	reg := newRegistry(now)
	e := &mergeEnv{reg: reg,
		amd64: platformImage(reg, "run-amd64", cache.MediaTypeDockerManifest, "linux", "amd64", "", 4000),
		arm64: platformImage(reg, "run-arm64", cache.MediaTypeDockerManifest, "linux", "arm64", "v8", 5000),
	}
	e.before = reg.tagged()
	return e
}

func (e *mergeEnv) merge(t *testing.T, in pipeline.MergeInput) (pipeline.Result, error, *fakeLog) {
	t.Helper()
	log := &fakeLog{secrets: e.reg.passwords}
	p := &pipeline.Pipeline{Publisher: e.reg, Log: log, Now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	if in.Repository == "" {
		in.Repository = "team/app"
	}
	if in.Tags == nil {
		in.Tags = []string{"1.0.0", "latest"}
	}
	res, err := p.Merge(t.Context(), in)
	if len(log.leaked) > 0 {
		t.Errorf("secrets said before they were masked: %q", log.leaked)
	}
	return res, err, log
}

// TestMergeJoinsPlatforms: two single-platform images, by digest and by
// URI, become one index under the requested tags; nothing else is left.
func TestMergeJoinsPlatforms(t *testing.T) {
	t.Parallel()
	e := newMergeEnv(t)
	uri := e.reg.host + "/team/app@" + e.arm64
	res, err, _ := e.merge(t, pipeline.MergeInput{Images: []string{e.amd64, uri}, Platforms: []string{"linux/arm64", "linux/amd64"}})
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	m := e.reg.manifests[res.Digest]
	if m.MediaType != "application/vnd.docker.distribution.manifest.list.v2+json" {
		t.Errorf("index media type %q, want a Docker manifest list (both images are Docker manifests)", m.MediaType)
	}
	var idx struct {
		MediaType string
		Manifests []struct {
			MediaType, Digest string
			Size              int64
			Platform          struct{ OS, Architecture, Variant string }
		}
	}
	if err := json.Unmarshal(m.Body, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 2 || idx.Manifests[0].Digest != e.amd64 || idx.Manifests[1].Digest != e.arm64 ||
		idx.Manifests[0].Platform.Architecture != "amd64" || idx.Manifests[1].Platform.Architecture != "arm64" || idx.Manifests[1].Platform.Variant != "v8" ||
		idx.Manifests[0].Size != int64(len(e.reg.manifests[e.amd64].Body)) || idx.Manifests[0].MediaType != cache.MediaTypeDockerManifest {
		t.Errorf("index entries = %+v", idx.Manifests)
	}
	for _, tag := range []string{"1.0.0", "latest"} {
		if got := e.reg.digestOf(tag); got != res.Digest {
			t.Errorf("tag %s at %s, want the index %s", tag, got, res.Digest)
		}
	}
	if diff := cmp.Diff(append(slices.Clone(e.before), "1.0.0", "latest"), e.reg.tagged(), cmp.Transformer("sort", func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s })); diff != "" {
		t.Errorf("tags after the merge (-want +got):\n%s", diff)
	}
	want := []pipeline.PlatformImage{{Platform: "linux/amd64", Digest: e.amd64, Size: 4000}, {Platform: "linux/arm64/v8", Digest: e.arm64, Size: 5000}}
	if diff := cmp.Diff(want, res.Platforms); diff != "" {
		t.Errorf("Platforms (-want +got):\n%s", diff)
	}
	if res.ImageURI != e.reg.host+"/team/app@"+res.Digest || res.Registry != e.reg.host {
		t.Errorf("ImageURI %q, Registry %q", res.ImageURI, res.Registry)
	}
	if n := e.reg.count("Put"); n != 3 {
		t.Errorf("%d Puts, want 3: the staging tag and two tags; calls %q", n, e.reg.callLog())
	}
}

// TestMergeOCIIndex: when an image is an OCI manifest, the index is an OCI
// image index.
func TestMergeOCIIndex(t *testing.T) {
	t.Parallel()
	e := newMergeEnv(t)
	oci := platformImage(e.reg, "run-arm", cache.MediaTypeOCIManifest, "linux", "arm", "v7", 3000)
	res, err, _ := e.merge(t, pipeline.MergeInput{Images: []string{e.amd64, oci}})
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	if got := e.reg.manifests[res.Digest].MediaType; got != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("index media type %q, want an OCI image index", got)
	}
}

// TestMergeRefusals: each input a merge cannot publish fails it with one
// line naming the input, before any requested tag is attached.
func TestMergeRefusals(t *testing.T) {
	t.Parallel()
	missing := sum("never pushed")
	for _, tc := range []struct {
		name   string
		images func(e *mergeEnv) []string
		setup  func(e *mergeEnv)
		in     func(in *pipeline.MergeInput)
		input  string // the input the error names
		says   string
	}{
		{name: "missing digest", images: func(e *mergeEnv) []string { return []string{e.amd64, missing} }, input: "images",
			says: missing + " is not in 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app: the run that built that platform should have pushed it there"},
		{name: "an index given", images: func(e *mergeEnv) []string {
			idx := registry.Manifest{Body: []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`), MediaType: "application/vnd.oci.image.index.v1+json"}
			e.reg.tagAt("multi", idx, time.Unix(1, 0))
			e.before = e.reg.tagged()
			return []string{e.amd64, idx.Digest()}
		}, input: "images", says: "is not one platform's image but a application/vnd.oci.image.index.v1+json"},
		{name: "two amd64 images", images: func(e *mergeEnv) []string {
			other := platformImage(e.reg, "other-amd64", cache.MediaTypeDockerManifest, "linux", "amd64", "", 10)
			e.before = e.reg.tagged()
			return []string{e.amd64, other}
		}, input: "images", says: "are both linux/amd64 images: an index holds one image a platform"},
		{name: "platform not asked for", images: func(e *mergeEnv) []string { return []string{e.amd64, e.arm64} },
			in: func(in *pipeline.MergeInput) { in.Platforms = []string{"linux/amd64", "linux/arm/v7"} }, input: "images", says: "is a linux/arm64/v8 image, not one of platforms linux/amd64,linux/arm/v7"},
		{name: "platform asked for, not given", images: func(e *mergeEnv) []string { return []string{e.amd64, e.arm64} },
			in: func(in *pipeline.MergeInput) { in.Platforms = []string{"linux/amd64", "linux/arm64", "linux/s390x"} }, input: "images", says: "no image given is a linux/s390x image"},
		{name: "another repository's image", images: func(e *mergeEnv) []string { return []string{e.amd64, e.reg.host + "/team/other@" + e.arm64} },
			input: "images", says: `"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/other" is not in 123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app`},
		{name: "another registry's image", images: func(e *mergeEnv) []string { return []string{e.amd64, "ghcr.io/team/app@" + e.arm64} },
			input: "images", says: `"ghcr.io/team/app" is not in`},
		{name: "a config naming no platform", images: func(e *mergeEnv) []string {
			odd := platformImage(e.reg, "odd", cache.MediaTypeDockerManifest, "linux\n::error::x", "amd64", "", 10)
			e.before = e.reg.tagged()
			return []string{e.amd64, odd}
		}, input: "images", says: "names no platform (an os and an architecture)"},
		{name: "one image", images: func(e *mergeEnv) []string { return []string{e.amd64} }, input: "images", says: "only 1 given: give the images of at least two platforms"},
		{name: "the same image twice", images: func(e *mergeEnv) []string { return []string{e.amd64, e.reg.host + "/team/app@" + e.amd64} }, input: "images", says: "is given twice"},
		{name: "hostile text", images: func(e *mergeEnv) []string { return []string{e.amd64, "::error::x\n%0A" + strings.Repeat("a", 300)} }, input: "images", says: `"::error::x\n%0Aaaaa`},
		{name: "over max-image-size", images: func(e *mergeEnv) []string { return []string{e.amd64, e.arm64} },
			in: func(in *pipeline.MergeInput) { in.MaxImageSize = 4500 }, input: "max-image-size", says: "the linux/arm64/v8 image is 5kB compressed (5000 bytes), over the limit"},
		{name: "tags refused in an immutable repository", images: func(e *mergeEnv) []string { return []string{e.amd64, e.arm64} },
			setup: func(e *mergeEnv) {
				e.reg.immutable = true
				e.reg.tagAt("1.0.0", e.reg.manifests[e.amd64], time.Unix(1, 0))
				e.before = e.reg.tagged()
			}, input: "tags", says: "1.0.0 already point at another image in team/app, whose tags are immutable: no tag was attached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newMergeEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			in := pipeline.MergeInput{Images: tc.images(e)}
			if tc.in != nil {
				tc.in(&in)
			}
			res, err, _ := e.merge(t, in)
			var ie *pipeline.InputError
			if !errors.As(err, &ie) || ie.Input != tc.input || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Merge error = %v, want one line, input %s, saying %q", err, tc.input, tc.says)
			}
			if diff := cmp.Diff(e.before, e.reg.tagged()); diff != "" {
				t.Errorf("the repository's tags changed (-before +after):\n%s", diff)
			}
			if len(res.Tags) != 0 || e.reg.count("Put") != 0 {
				t.Errorf("tags attached %q, %d Puts; want none", res.Tags, e.reg.count("Put"))
			}
		})
	}
}

// TestMergeIndexNotHeld: a registry that does not hold the index under the
// staging tag as put fails the merge, attaching nothing, and the staging
// tag goes.
func TestMergeIndexNotHeld(t *testing.T) {
	t.Parallel()
	e := newMergeEnv(t)
	e.reg.fail = func(op, ref string) error {
		if op == "Describe" && strings.HasPrefix(ref, cache.StagingTagPrefix) {
			return fmt.Errorf("describing %s: %w", ref, registry.ErrNotFound)
		}
		return nil
	}
	res, err, _ := e.merge(t, pipeline.MergeInput{Images: []string{e.amd64, e.arm64}})
	if err == nil || !strings.Contains(err.Error(), "checking the index") || !strings.Contains(err.Error(), "no tag was attached") {
		t.Fatalf("Merge error = %v, want the index check's failure", err)
	}
	if diff := cmp.Diff(e.before, e.reg.tagged()); diff != "" || len(res.Tags) != 0 {
		t.Errorf("tags %q; the repository's tags changed (-before +after):\n%s", res.Tags, diff)
	}
}
