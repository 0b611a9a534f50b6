package ociregistry_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/ms-build-action/internal/ociregistry"
	"github.com/org/ms-build-action/internal/registry"
)

func TestStartKeepsBlobsInDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "blobs") // Start creates it
	first, err := ociregistry.Start(t.Context(), dir)
	must(t, err)
	img := randomImage(t)
	want := push(t, first.Host(), "app", "v1", img)
	must(t, first.Close())

	var blobs []v1.Hash
	layers, err := img.Layers()
	must(t, err)
	for _, l := range layers {
		d, err := l.Digest()
		must(t, err)
		blobs = append(blobs, d)
	}
	config, err := img.ConfigName()
	must(t, err)
	blobs = append(blobs, config)
	for _, b := range blobs {
		if _, err := os.Stat(filepath.Join(dir, "blobs", b.Algorithm, b.Hex)); err != nil {
			t.Errorf("blob %s is not in the directory: %v", b, err)
		}
	}

	// A registry started again on the directory serves the blobs and the
	// manifests, on the same port.
	second, err := ociregistry.Start(t.Context(), dir)
	must(t, err)
	for _, b := range blobs {
		ref, err := name.NewDigest(second.Host() + "/app@" + b.String())
		must(t, err)
		l, err := remote.Layer(ref, remote.WithContext(t.Context()))
		must(t, err)
		rc, err := l.Compressed()
		must(t, err)
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		must(t, err)
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != b.String() {
			t.Errorf("the second registry served %s as a blob with digest %s", b, got)
		}
	}
	if second.Host() != first.Host() {
		t.Errorf("the second registry listens on %s, the first did on %s", second.Host(), first.Host())
	}
	pub := ociregistry.New(second.Host(), "app")
	if img, err := pub.Describe(t.Context(), "v1"); err != nil || img.Digest != want.digest.String() {
		t.Errorf("Describe(v1) on the second registry = %+v, %v; want digest %s", img, err, want.digest)
	}

	// One process at a time: a third registry on the directory is refused
	// while the second runs.
	if _, err := ociregistry.Start(t.Context(), dir); !errors.Is(err, ociregistry.ErrInUse) {
		t.Errorf("a second registry on a directory in use: %v, want ErrInUse", err)
	}
	// An untagged manifest stays untagged.
	must(t, pub.Untag(t.Context(), "v1"))
	must(t, second.Close())
	third, err := ociregistry.Start(t.Context(), dir)
	must(t, err)
	t.Cleanup(func() { must(t, third.Close()) })
	if _, err := ociregistry.New(third.Host(), "app").Describe(t.Context(), "v1"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Describe(v1) after it was untagged and the registry restarted = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("Close removed the caller's directory: %v", err)
	}
}
