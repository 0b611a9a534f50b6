package cache

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestImageLayersWithHistory(t *testing.T) {
	t.Parallel()
	manifest := []byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","size":2},
		"layers":[{"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":10},{"digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","size":20},{"digest":"sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd","size":30}]}`)
	cfg, layers, err := ImageLayers(manifest)
	if err != nil || cfg != "sha256:"+repeat('c') || ImageSize(layers) != 60 {
		t.Fatalf("ImageLayers = %s, %v, %v", cfg, layers, err)
	}
	// Empty layers are skipped; a history shorter than the layers leaves
	// the rest unnamed.
	config := []byte(`{"history":[{"created_by":"ADD rootfs.tar /"},{"created_by":"ENV A=1","empty_layer":true},{"created_by":"RUN make\n| x"}]}`)
	got, err := WithHistory(layers, config)
	if err != nil {
		t.Fatal(err)
	}
	want := []Layer{
		{Digest: "sha256:" + repeat('a'), Size: 10, CreatedBy: "ADD rootfs.tar /"},
		{Digest: "sha256:" + repeat('b'), Size: 20, CreatedBy: "RUN make\n| x"},
		{Digest: "sha256:" + repeat('d'), Size: 30},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("WithHistory (-want +got):\n%s", diff)
	}
	if layers[0].CreatedBy != "" {
		t.Error("WithHistory changed its argument")
	}
	for _, bad := range []string{`{"manifests":[]}`, `not json`} {
		if _, _, err := ImageLayers([]byte(bad)); err == nil {
			t.Errorf("ImageLayers(%s) took it for an image manifest", bad)
		}
	}
}

func repeat(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
