package pipeline_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/pipeline"
)

// withRepository describes the repository as a front end would.
func withRepository(version string) func(*pipeline.Input) {
	return func(in *pipeline.Input) {
		in.Commit.Repository = pipeline.Repository{Title: "app", Description: "The app: 100% \"quoted\" ::notice::", URL: "https://github.com/acme/app", Licenses: "Apache-2.0"}
		in.Commit.Version = version
	}
}

func withLabels(kv ...string) func(*pipeline.Input) {
	return func(in *pipeline.Input) { in.Labels = pairs(kv) }
}

func withAnnotations(kv ...string) func(*pipeline.Input) {
	return func(in *pipeline.Input) { in.Annotations = pairs(kv) }
}

func pairs(kv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// runtimeSpec is the build of the runtime target.
func runtimeSpec(t *testing.T, b *fakeBuilder) build.Spec {
	t.Helper()
	for _, s := range b.builds {
		if s.Target == "runtime" {
			return s
		}
	}
	t.Fatalf("no runtime build among %d", len(b.builds))
	return build.Spec{}
}

// TestImageLabels proves the runtime image gets the standard OCI labels
// from the repository and the commit, and that the user's labels override
// them; the build stage gets none.
func TestImageLabels(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	o := e.run(t.Context(), nil, e.input(withRepository("main"), withLabels("org.opencontainers.image.title", "App Server", "com.example.team", "payments")))
	mustSucceed(t, o)
	got := runtimeSpec(t, o.b).Labels
	created, err := time.Parse(time.RFC3339, got["org.opencontainers.image.created"])
	if err != nil || created.Year() != 2026 {
		t.Errorf("created = %q (%v), want the run's time in RFC 3339", got["org.opencontainers.image.created"], err)
	}
	delete(got, "org.opencontainers.image.created")
	want := map[string]string{
		"org.opencontainers.image.title":       "App Server",
		"org.opencontainers.image.description": "The app: 100% \"quoted\" ::notice::",
		"org.opencontainers.image.url":         "https://github.com/acme/app",
		"org.opencontainers.image.source":      "https://github.com/acme/app",
		"org.opencontainers.image.version":     "main",
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.revision":    "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4",
		"com.example.team":                     "payments",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runtime labels (-want +got):\n%s", diff)
	}
	for _, s := range o.b.builds {
		if s.Target == "build" && len(s.Labels) > 0 {
			t.Errorf("the build stage got labels %v: they belong to the runtime image", s.Labels)
		}
	}

	// What is unknown is left out, not set empty.
	bare := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Commit = pipeline.Commit{}; in.Cache = false }))
	mustSucceed(t, bare)
	if l := runtimeSpec(t, bare.b).Labels; len(l) != 1 || l["org.opencontainers.image.created"] == "" {
		t.Errorf("labels with nothing known = %v, want only created", l)
	}
}

// TestLabelsAndAnnotationsInSkipKey proves the user's labels and
// annotations move the skip key, and that what the repository and the
// commit decide (revision, version, description, ...) does not: a later
// commit with the same inputs skips onto the building commit's image.
func TestLabelsAndAnnotationsInSkipKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		first, second []func(*pipeline.Input)
		skips         bool
	}{
		{name: "same labels, new commit and version", skips: true,
			first:  []func(*pipeline.Input){withLabels("team", "a"), withRepository("v1.0.0"), atCommit(commitA)},
			second: []func(*pipeline.Input){withLabels("team", "a"), withRepository("v1.0.1"), atCommit(commitB)}},
		{name: "repository described anew", skips: true,
			first: []func(*pipeline.Input){withRepository("main")},
			second: []func(*pipeline.Input){func(in *pipeline.Input) {
				in.Commit.Repository = pipeline.Repository{Title: "renamed", Description: "new", Licenses: "MIT"}
			}}},
		{name: "label value changed",
			first:  []func(*pipeline.Input){withLabels("team", "a")},
			second: []func(*pipeline.Input){withLabels("team", "b")}},
		{name: "label added",
			second: []func(*pipeline.Input){withLabels("team", "a")}},
		{name: "user label overriding a standard one",
			second: []func(*pipeline.Input){withLabels("org.opencontainers.image.version", "1.2.3")}},
		{name: "same annotations, new commit", skips: true,
			first:  []func(*pipeline.Input){withAnnotations("com.example.ticket", "X-1"), atCommit(commitA)},
			second: []func(*pipeline.Input){withAnnotations("com.example.ticket", "X-1"), atCommit(commitB)}},
		{name: "annotation added",
			second: []func(*pipeline.Input){withAnnotations("com.example.ticket", "X-1")}},
		{name: "annotation changed",
			first:  []func(*pipeline.Input){withAnnotations("com.example.ticket", "X-1")},
			second: []func(*pipeline.Input){withAnnotations("com.example.ticket", "X-2")}},
		{name: "a label is not an annotation",
			first:  []func(*pipeline.Input){withLabels("k", "v")},
			second: []func(*pipeline.Input){withAnnotations("k", "v")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			first := e.run(t.Context(), nil, e.input(append(tt.first, withTags("first"))...))
			mustSucceed(t, first)
			second := e.run(t.Context(), nil, e.input(append(tt.second, withTags("second"))...))
			mustSucceed(t, second)
			if second.res.Skipped != tt.skips {
				t.Fatalf("skipped = %v, want %v", second.res.Skipped, tt.skips)
			}
			if tt.skips && second.res.Digest != first.res.Digest {
				t.Errorf("the skip tagged %s, want the first run's image %s", second.res.Digest, first.res.Digest)
			}
		})
	}
}

// TestAnnotationsPublishAnOCIManifest proves that with annotations the run
// publishes, reports and records an OCI manifest of the pushed image's
// config and layers that carries them, which a later skip tags again; and
// that without annotations the image is the one pushed.
func TestAnnotationsPublishAnOCIManifest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ann := map[string]string{"org.opencontainers.image.description": "line one: 100% ::warning:: \"q\"", "com.example.ticket": "X-1"}
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Annotations = ann }, atCommit(commitA)))
	mustSucceed(t, o)
	pushed := manifestFor(o.res.ImageID, o.b.layer)
	if o.res.Digest == pushed.Digest() {
		t.Fatalf("digest %s is the pushed manifest's: the annotations were not published", o.res.Digest)
	}
	m := e.reg.manifests[o.res.Digest]
	if m.MediaType != cache.MediaTypeOCIManifest {
		t.Errorf("published media type %s, want %s", m.MediaType, cache.MediaTypeOCIManifest)
	}
	var got, was v1.Manifest
	if err := json.Unmarshal(m.Body, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(pushed.Body, &was); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ann, got.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if got.Config.Digest != was.Config.Digest || !cmp.Equal(got.Layers, was.Layers) {
		t.Errorf("the annotated manifest has other blobs: config %s layers %v, pushed %s %v", got.Config.Digest, got.Layers, was.Config.Digest, was.Layers)
	}
	for _, tag := range []string{"v1", "latest"} {
		if d := e.reg.digestOf(tag); d != o.res.Digest {
			t.Errorf("tag %s at %s, want the annotated manifest %s", tag, d, o.res.Digest)
		}
	}
	if want := ref("x")[:len(ref("x"))-len("/team/app:x")]; o.res.Registry != want {
		t.Errorf("registry = %q, want %q", o.res.Registry, want)
	}
	if o.res.ImageURI != o.res.Registry+"/team/app@"+o.res.Digest {
		t.Errorf("image-uri %s does not name the annotated manifest %s", o.res.ImageURI, o.res.Digest)
	}
	noStaging(t, e.reg)

	again := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Annotations = ann }, atCommit(commitB), withTags("v2")))
	mustSucceed(t, again)
	if !again.res.Skipped || again.res.Digest != o.res.Digest || e.reg.digestOf("v2") != o.res.Digest {
		t.Errorf("the skip: skipped %v, digest %s, v2 at %s; want the annotated manifest %s", again.res.Skipped, again.res.Digest, e.reg.digestOf("v2"), o.res.Digest)
	}

	plain := newEnv(t, nil)
	p := plain.run(t.Context(), nil, plain.input())
	mustSucceed(t, p)
	if want := manifestFor(p.res.ImageID, p.b.layer).Digest(); p.res.Digest != want {
		t.Errorf("without annotations the digest is %s, want the pushed manifest's %s", p.res.Digest, want)
	}
}
