package cache_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/org/ms-build-action/internal/cache"
)

// TestAnnotate proves a Docker schema 2 manifest becomes an OCI image
// manifest of the same blobs with the annotations, and an OCI one keeps its
// own annotations under the user's.
func TestAnnotate(t *testing.T) {
	t.Parallel()
	const schema2 = `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111"},
"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2811,"digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222"},
{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","size":10,"digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","urls":["https://example.com/l"]}]}`
	ann := map[string]string{"com.example.note": "100% \"quoted\" ::x::", "org.opencontainers.image.version": "1.2.3"}
	body, err := cache.Annotate([]byte(schema2), cache.MediaTypeDockerManifest, ann)
	if err != nil {
		t.Fatal(err)
	}
	var got v1.Manifest
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := v1.Manifest{MediaType: cache.MediaTypeOCIManifest,
		Config: v1.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Size: 1469, Digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"},
		Layers: []v1.Descriptor{
			{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 2811, Digest: "sha256:2222222222222222222222222222222222222222222222222222222222222222"},
			{MediaType: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", Size: 10, Digest: "sha256:3333333333333333333333333333333333333333333333333333333333333333", URLs: []string{"https://example.com/l"}},
		},
		Annotations: ann}
	want.SchemaVersion = 2
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("annotated (-want +got):\n%s", diff)
	}
	if id, err := cache.ConfigDigest(body); err != nil || id != want.Config.Digest.String() {
		t.Errorf("config digest %s (%v): the image id must not change", id, err)
	}

	// An OCI manifest keeps its annotations; the user's win.
	again, err := cache.Annotate(body, cache.MediaTypeOCIManifest, map[string]string{"org.opencontainers.image.version": "2.0", "k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(again, &m); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"com.example.note": ann["com.example.note"], "org.opencontainers.image.version": "2.0", "k": "v"}, m.Annotations); diff != "" {
		t.Errorf("annotations of an OCI manifest (-want +got):\n%s", diff)
	}

	// An index (a Docker manifest list too) becomes an OCI index of the same
	// images, with the annotations.
	list := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":7,"digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","platform":{"architecture":"arm64","os":"linux"}}]}`
	body, err = cache.Annotate([]byte(list), "application/vnd.docker.distribution.manifest.list.v2+json", ann)
	if err != nil {
		t.Fatal(err)
	}
	var ix v1.Index
	if err := json.Unmarshal(body, &ix); err != nil {
		t.Fatal(err)
	}
	if ix.MediaType != "application/vnd.oci.image.index.v1+json" || len(ix.Manifests) != 1 || ix.Manifests[0].Platform.Architecture != "arm64" || ix.Annotations["com.example.note"] != ann["com.example.note"] {
		t.Errorf("annotated index = %s, want an OCI index of the same image with the annotations", body)
	}
	if _, err := cache.Annotate([]byte(`{}`), "application/vnd.in-toto+json", ann); err == nil {
		t.Error("an attestation was annotated: want an error")
	}
}
