package ociregistry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/org/ms-build-action/internal/ociregistry"
	"github.com/org/ms-build-action/internal/registry"
)

// TestBlob reads an image's config back from the dry run's registry; a
// blob it does not hold is ErrNotFound.
func TestBlob(t *testing.T) {
	t.Parallel()
	l := start(t)
	img := randomImage(t)
	push(t, l.Host(), "app", "v1", img)
	want, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	p := ociregistry.New(l.Host(), "app")
	got, err := p.Blob(t.Context(), cfg.String())
	if err != nil || string(got) != string(want) {
		t.Fatalf("Blob = %q, %v; want the config %q", got, err, want)
	}
	if _, err := p.Blob(t.Context(), "sha256:"+strings.Repeat("0", 64)); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Blob of a missing blob = %v, want ErrNotFound", err)
	}
}
