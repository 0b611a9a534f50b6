package ociregistry_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/ms-build-action/internal/ociregistry"
)

// TestPushDoesNotHoldBlobsInMemory pushes an image with a 64 MiB layer to a
// Start()ed registry and checks that the process allocated far less than
// the layer while doing it. go-containerregistry's own upload handler
// copies every upload into a bytes.Buffer (and again on the final PUT),
// which allocates more than the blob's size: with it, this test fails.
//
// The client and the registry share the process, so the figure is both
// sides': the client streams the layer from a file, allocating little.
//
// Not parallel: it measures the whole process's allocations, and a
// sequential test runs before any parallel one starts.
func TestPushDoesNotHoldBlobsInMemory(t *testing.T) {
	const size = 64 << 20
	dir := t.TempDir()
	layer := fileLayer(t, filepath.Join(dir, "layer"), size)
	img, err := mutate.AppendLayers(empty.Image, layer)
	must(t, err)
	l, err := ociregistry.Start(t.Context(), filepath.Join(dir, "registry"))
	must(t, err)
	t.Cleanup(func() { must(t, l.Close()) })
	ref, err := name.NewTag(l.Host()+"/app:big", name.StrictValidation)
	must(t, err)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	must(t, remote.Write(ref, img, remote.WithContext(t.Context())))
	runtime.ReadMemStats(&after)

	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("pushing a %d MiB layer allocated %.1f MiB; heap in use %.1f MiB before, %.1f MiB after",
		size>>20, mib(allocated), mib(before.HeapInuse), mib(after.HeapInuse))
	if allocated > size/4 {
		t.Errorf("pushing a %d MiB layer allocated %.1f MiB, want under %d MiB: the upload was held in memory",
			size>>20, mib(allocated), size>>20/4)
	}

	d, err := layer.Digest()
	must(t, err)
	fi, err := os.Stat(filepath.Join(dir, "registry", "blobs", d.Algorithm, d.Hex))
	must(t, err)
	if fi.Size() != size {
		t.Errorf("the stored layer has %d bytes, want %d", fi.Size(), size)
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// fileLayer writes size random bytes to path and returns an uncompressed
// layer that reads them from there each time it is read. The bytes are no
// tar: the registry does not look.
func fileLayer(t *testing.T, path string, size int64) v1.Layer {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	h := sha256.New()
	_, err = io.CopyN(io.MultiWriter(f, h), rand.Reader, size)
	must(t, err)
	must(t, f.Close())
	return onDisk{path: path, size: size, digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}}
}

type onDisk struct {
	path   string
	size   int64
	digest v1.Hash
}

func (l onDisk) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l onDisk) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l onDisk) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l onDisk) Uncompressed() (io.ReadCloser, error) { return os.Open(l.path) }
func (l onDisk) Size() (int64, error)                 { return l.size, nil }
func (l onDisk) MediaType() (types.MediaType, error)  { return types.OCIUncompressedLayer, nil }
