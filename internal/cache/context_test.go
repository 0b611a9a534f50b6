package cache_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/buildcontext"
	"github.com/org/ms-build-action/internal/cache"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDependencyKeyDockerignore proves, through a real context directory,
// that files .dockerignore excludes play no part in the key: the key is the
// one of a context that never had them, and editing them leaves it.
func TestDependencyKeyDockerignore(t *testing.T) {
	t.Parallel()
	visible := map[string]string{
		"Dockerfile":         "FROM sdk AS build\nCOPY . .\nRUN dotnet publish\n",
		".dockerignore":      "legacy/\n**/bin\n**/obj\n",
		"App.sln":            "solution",
		"src/App/App.csproj": "<Project/>",
		"src/App/Program.cs": "class Program {}",
	}
	dir := t.TempDir()
	writeTree(t, dir, visible)
	writeTree(t, dir, map[string]string{
		"legacy/Old/Old.csproj":                "<Project>old</Project>",
		"src/App/obj/project.assets.json":      "{}",
		"src/App/obj/App.csproj.nuget.g.props": "<Project/>",
		"src/App/bin/Debug/App.deps.json":      "{}",
	})
	key := func() cache.Key {
		t.Helper()
		c, err := buildcontext.Open(dir, "")
		if err != nil {
			t.Fatalf("OpenContext: %v", err)
		}
		k, err := cache.DependencyKey(cache.DependencyInput{FS: c.FS(), StageSource: "FROM sdk AS build\n", Platform: "linux/amd64"})
		if err != nil {
			t.Fatalf("DependencyKey: %v", err)
		}
		return k
	}
	got := key()

	m := fstest.MapFS{}
	for name, content := range visible {
		m[name] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
	}
	want, err := cache.DependencyKey(cache.DependencyInput{FS: m, StageSource: "FROM sdk AS build\n", Platform: "linux/amd64"})
	if err != nil {
		t.Fatalf("DependencyKey: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("key of the context (-without the ignored files +with them):\n%s", diff)
	}

	writeTree(t, dir, map[string]string{"legacy/Old/Old.csproj": "<Project>older</Project>"})
	if again := key(); again.Hex != got.Hex {
		t.Errorf("editing an ignored file moved the key from %s to %s", got.Hex, again.Hex)
	}
	writeTree(t, dir, map[string]string{"src/App/App.csproj": "<Project>new</Project>"})
	if again := key(); again.Hex == got.Hex {
		t.Errorf("editing a dependency file left the key at %s", got.Hex)
	}
}

// TestSkipKeyContext proves SkipKey reads a real context through
// build.Context.FS, symbolic links and all, and sees only what the tar
// carries.
func TestSkipKeyContext(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Dockerfile":    "FROM scratch\nCOPY . /\n",
		".dockerignore": "*.log\n",
		"app/main.go":   "package main\n",
		"debug.log":     "noise",
	})
	if err := os.Symlink("app/main.go", filepath.Join(dir, "main.go")); err != nil {
		t.Fatal(err)
	}
	key := func() string {
		t.Helper()
		c, err := buildcontext.Open(dir, "")
		if err != nil {
			t.Fatalf("OpenContext: %v", err)
		}
		k, err := cache.SkipKey(context.Background(), cache.SkipInput{FS: c.FS(), Dockerfile: c.Dockerfile()})
		if err != nil {
			t.Fatalf("SkipKey: %v", err)
		}
		return k
	}
	base := key()
	writeTree(t, dir, map[string]string{"debug.log": "more noise"})
	if got := key(); got != base {
		t.Errorf("editing an ignored file moved the skip key from %s to %s", base, got)
	}
	writeTree(t, dir, map[string]string{"app/main.go": "package main // changed\n"})
	if got := key(); got == base {
		t.Errorf("editing a file of the context left the skip key at %s", base)
	}
}
