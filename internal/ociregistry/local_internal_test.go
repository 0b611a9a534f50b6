package ociregistry

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

func TestCloseRemovesTempDir(t *testing.T) {
	t.Parallel()
	l, err := Start(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if l.tempDir == "" {
		t.Fatal("Start with no directory made no temporary one")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.tempDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Close, stat %s = %v, want it gone", l.tempDir, err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("a second Close = %v, want nil", err)
	}
}
