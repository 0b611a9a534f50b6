package testenv

import (
	"archive/tar"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// ImageFile reads a file of an image's filesystem (its layers flattened);
// the test fails when the image has no such file.
func ImageFile(t testing.TB, img v1.Image, path string) string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	path = strings.TrimPrefix(path, "/")
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("the image has no /%s", path)
		}
		if err != nil {
			t.Fatalf("reading the image's files: %v", err)
		}
		if strings.TrimPrefix(h.Name, "./") == path {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("reading /%s: %v", path, err)
			}
			return string(b)
		}
	}
}
