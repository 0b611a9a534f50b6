package cache

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/org/ms-build-action/internal/buildcontext"
)

func skipProject() fstest.MapFS {
	return fstest.MapFS{
		"Dockerfile":              {Data: []byte("FROM sdk AS build\nCOPY . .\nRUN make\n"), Mode: 0o644},
		"Makefile":                {Data: []byte("all:\n\tcc main.c\n"), Mode: 0o644},
		"main.c":                  {Data: []byte("int main(void) { return 0; }\n"), Mode: 0o644},
		"scripts/build.sh":        {Data: []byte("#!/bin/sh\nmake\n"), Mode: 0o755},
		"scripts/current":         {Data: []byte("build.sh"), Mode: fs.ModeSymlink | 0o777},
		"assets":                  {Mode: fs.ModeDir | 0o755},
		"assets/logo.svg":         {Data: []byte("<svg/>"), Mode: 0o644},
		"assets/empty.txt":        {Mode: 0o644},
		"include/app/config.h":    {Data: []byte("#define X 1\n"), Mode: 0o644},
		"include/app/config.h.in": {Data: []byte("#define X @X@\n"), Mode: 0o644},
	}
}

func skipInput() SkipInput {
	return SkipInput{
		FS:         skipProject(),
		Dockerfile: []byte("FROM sdk AS build\nCOPY . .\nRUN make\nFROM scratch\nCOPY --from=build /app /app\n"),
		BuildArgs:  map[string]string{"VERSION": "1.0"},
		Target:     "runtime",
		Platform:   "linux/amd64",
		Labels: map[string]string{
			"org.opencontainers.image.source":   "https://github.com/org/app",
			"org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
		},
		Bases: map[string]string{"sdk": "sha256:5f1c9e2a0b8d7c6e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e"},
	}
}

func mustSkipKey(t *testing.T, in SkipInput, workers int) string {
	t.Helper()
	k, err := skipKey(context.Background(), in, workers)
	if err != nil {
		t.Fatalf("skipKey: %v", err)
	}
	return k.Key
}

// TestSkipKeyDeterministic proves the key depends on neither the order the
// context is walked in nor the number of workers.
func TestSkipKeyDeterministic(t *testing.T) {
	t.Parallel()
	want := mustSkipKey(t, skipInput(), 1)
	if got, want := len(want), 64; got != want {
		t.Fatalf("len(key) = %d, want %d", got, want)
	}
	tests := []struct {
		name    string
		fsys    func(fs.FS) fs.FS
		workers int
	}{
		{name: "one worker again", fsys: func(f fs.FS) fs.FS { return f }, workers: 1},
		{name: "two workers", fsys: func(f fs.FS) fs.FS { return f }, workers: 2},
		{name: "more workers than files", fsys: func(f fs.FS) fs.FS { return f }, workers: 64},
		{name: "reversed walk", fsys: func(f fs.FS) fs.FS { return reversedFS{f} }, workers: 1},
		{name: "reversed walk, three workers", fsys: func(f fs.FS) fs.FS { return reversedFS{f} }, workers: 3},
		{name: "slow first file", fsys: func(f fs.FS) fs.FS { return slowFS{f, "Dockerfile"} }, workers: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := skipInput()
			in.FS = tt.fsys(in.FS)
			if got := mustSkipKey(t, in, tt.workers); got != want {
				t.Errorf("key = %s, want %s", got, want)
			}
		})
	}
}

// slowFS delays reading one file, so that workers finish out of order.
type slowFS struct {
	fs.FS
	slow string
}

func (s slowFS) Open(name string) (fs.File, error) {
	if name == s.slow {
		time.Sleep(20 * time.Millisecond)
	}
	return s.FS.Open(name)
}

func (s slowFS) ReadLink(name string) (string, error)   { return fs.ReadLink(s.FS, name) }
func (s slowFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(s.FS, name) }

// TestSkipKeyChanges proves that every input that decides the image moves
// the key, and that file times do not.
func TestSkipKeyChanges(t *testing.T) {
	t.Parallel()
	files := func(f func(fstest.MapFS)) func(*SkipInput) {
		return func(in *SkipInput) { f(in.FS.(fstest.MapFS)) }
	}
	tests := []struct {
		name   string
		change func(*SkipInput)
		moves  bool
	}{
		{name: "nothing", change: func(*SkipInput) {}},
		{name: "file times", change: files(func(m fstest.MapFS) {
			for _, f := range m {
				f.ModTime = time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
			}
		})},
		{name: "labels in another map", change: func(in *SkipInput) {
			in.Labels = map[string]string{
				"org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
				"org.opencontainers.image.source":   "https://github.com/org/app",
			}
		}},

		{name: "one byte of content", change: files(func(m fstest.MapFS) { m["main.c"].Data[len(m["main.c"].Data)-2] = ' ' }), moves: true},
		{name: "byte appended to an empty file", change: files(func(m fstest.MapFS) { m["assets/empty.txt"].Data = []byte{0} }), moves: true},
		{name: "executable bit", change: files(func(m fstest.MapFS) { m["main.c"].Mode = 0o755 }), moves: true},
		{name: "group write bit", change: files(func(m fstest.MapFS) { m["main.c"].Mode = 0o664 }), moves: true},
		{name: "directory mode", change: files(func(m fstest.MapFS) { m["assets"].Mode = fs.ModeDir | 0o700 }), moves: true},
		{name: "setuid bit", change: files(func(m fstest.MapFS) { m["scripts/build.sh"].Mode = fs.ModeSetuid | 0o755 }), moves: true},
		{name: "rename", change: files(func(m fstest.MapFS) {
			m["main.cc"] = m["main.c"]
			delete(m, "main.c")
		}), moves: true},
		{name: "file moved to another directory", change: files(func(m fstest.MapFS) {
			m["assets/main.c"] = m["main.c"]
			delete(m, "main.c")
		}), moves: true},
		{name: "new empty directory", change: files(func(m fstest.MapFS) { m["build"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755} }), moves: true},
		{name: "new empty file", change: files(func(m fstest.MapFS) { m["assets/empty2.txt"] = &fstest.MapFile{Mode: 0o644} }), moves: true},
		{name: "file removed", change: files(func(m fstest.MapFS) { delete(m, "include/app/config.h.in") }), moves: true},
		{name: "symbolic link target", change: files(func(m fstest.MapFS) { m["scripts/current"].Data = []byte("./build.sh") }), moves: true},
		{name: "symbolic link replaced by its target's content", change: files(func(m fstest.MapFS) {
			m["scripts/current"] = &fstest.MapFile{Data: []byte("#!/bin/sh\nmake\n"), Mode: 0o777}
		}), moves: true},
		{name: "Dockerfile", change: func(in *SkipInput) { in.Dockerfile = append(in.Dockerfile, '\n') }, moves: true},
		{name: "build arg value", change: func(in *SkipInput) { in.BuildArgs = map[string]string{"VERSION": "1.1"} }, moves: true},
		{name: "build arg added", change: func(in *SkipInput) { in.BuildArgs = map[string]string{"VERSION": "1.0", "DEBUG": ""} }, moves: true},
		{name: "target", change: func(in *SkipInput) { in.Target = "debug" }, moves: true},
		{name: "platform", change: func(in *SkipInput) { in.Platform = "linux/arm64" }, moves: true},
		{name: "label value", change: func(in *SkipInput) {
			in.Labels = map[string]string{"org.opencontainers.image.source": "https://github.com/org/app", "org.opencontainers.image.revision": "fedcba"}
		}, moves: true},
		{name: "label removed", change: func(in *SkipInput) {
			in.Labels = map[string]string{"org.opencontainers.image.source": "https://github.com/org/app"}
		}, moves: true},
		{name: "salt", change: func(in *SkipInput) { in.Salt = "rebuild" }, moves: true},
		{name: "network", change: func(in *SkipInput) { in.Network = "host" }, moves: true},
		{name: "frontend", change: func(in *SkipInput) { in.Frontend = "docker/dockerfile:1" }, moves: true},
		{name: "frontend moved", change: func(in *SkipInput) {
			in.Frontend, in.FrontendDigest = "docker/dockerfile:1", "sha256:1111111111111111111111111111111111111111111111111111111111111111"
		}, moves: true},
		{name: "image in COPY --from moved", change: func(in *SkipInput) {
			in.Bases = map[string]string{"sdk": in.Bases["sdk"], "tools:1": "sha256:2222222222222222222222222222222222222222222222222222222222222222"}
		}, moves: true},
		{name: "network and frontend boundary", change: func(in *SkipInput) { in.Network, in.Frontend = "hos", "tdocker/dockerfile:1" }, moves: true},
		{name: "context directory on disk", change: func(in *SkipInput) { in.Dir = "/elsewhere" }, moves: false},
		{name: "base image moved", change: func(in *SkipInput) {
			in.Bases = map[string]string{"sdk": "sha256:0000000000000000000000000000000000000000000000000000000000000000"}
		}, moves: true},
		{name: "target and platform boundary", change: func(in *SkipInput) { in.Target, in.Platform = "runtimel", "inux/amd64" }, moves: true},
	}
	base := mustSkipKey(t, skipInput(), 2)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := skipInput()
			tt.change(&in)
			got := mustSkipKey(t, in, 2)
			if moved := got != base; moved != tt.moves {
				t.Errorf("key moved = %v, want %v (base %s, got %s)", moved, tt.moves, base, got)
			}
		})
	}
}

// TestSkipKeyMtime proves, on a real directory, that changing the times of
// files and directories leaves the key, and that a one-byte change with the
// same size and time does not.
func TestSkipKeyMtime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo", "sub/deeper/c.bin": "charlie"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in := SkipInput{FS: os.DirFS(dir), Dockerfile: []byte("FROM scratch\nCOPY . /\n")}
	base := mustSkipKey(t, in, 2)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, name := range []string{"a.txt", "sub", "sub/b.txt", "sub/deeper", "sub/deeper/c.bin"} {
		if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(name)), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustSkipKey(t, in, 2); got != base {
		t.Errorf("changing times moved the key from %s to %s", base, got)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "b.txt"), []byte("brava"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, "sub", "b.txt"), old, old); err != nil {
		t.Fatal(err)
	}
	if got := mustSkipKey(t, in, 2); got == base {
		t.Errorf("a one-byte change of the same size and time left the key at %s", base)
	}
}

// cancelFS cancels a context when a file is opened, and counts opens.
type cancelFS struct {
	fs.FS
	cancel context.CancelFunc
	opens  *atomic.Int32
}

func (c cancelFS) Open(name string) (fs.File, error) {
	f, err := c.FS.Open(name)
	if err == nil {
		if fi, _ := f.Stat(); fi != nil && !fi.IsDir() {
			c.opens.Add(1)
			c.cancel()
		}
	}
	return f, err
}

// TestSkipKeyCancel proves that a cancelled context stops SkipKey with the
// context's error, before it starts and while it reads.
func TestSkipKeyCancel(t *testing.T) {
	t.Parallel()
	t.Run("before", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := SkipKey(ctx, skipInput())
		if !errors.Is(err, context.Canceled) {
			t.Errorf("SkipKey error = %v, want context.Canceled", err)
		}
	})
	t.Run("while reading", func(t *testing.T) {
		t.Parallel()
		m := fstest.MapFS{}
		for i := range 500 {
			m[fmt.Sprintf("d%d/f%d", i%7, i)] = &fstest.MapFile{Data: []byte(strings.Repeat("x", i))}
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var opens atomic.Int32
		_, err := skipKey(ctx, SkipInput{FS: cancelFS{m, cancel, &opens}}, 2)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("skipKey error = %v, want context.Canceled", err)
		}
		if n := opens.Load(); n > 50 {
			t.Errorf("%d files were opened after the context was cancelled; want it to stop soon", n)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		_, err := SkipKey(ctx, skipInput())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("SkipKey error = %v, want context.DeadlineExceeded", err)
		}
	})
}

// failFS fails to open one file.
type failFS struct {
	fs.FS
	bad string
}

func (f failFS) Open(name string) (fs.File, error) {
	if name == f.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return f.FS.Open(name)
}

func (f failFS) ReadLink(name string) (string, error)   { return fs.ReadLink(f.FS, name) }
func (f failFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(f.FS, name) }

// TestSkipKeyReadError proves that a file that cannot be read fails the key,
// with its name, rather than leaving it out.
func TestSkipKeyReadError(t *testing.T) {
	t.Parallel()
	in := skipInput()
	in.FS = failFS{in.FS, "include/app/config.h"}
	_, err := skipKey(context.Background(), in, 3)
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("skipKey error = %v, want fs.ErrPermission", err)
	}
	if got, want := err.Error(), "hashing build context: open include/app/config.h: permission denied"; got != want {
		t.Errorf("skipKey error = %q, want %q", got, want)
	}
}

// skipKeyGolden pins the key of skipInput for each encoding. If the test
// fails because the encoding changed on purpose, bump skipKeyVersion and add
// a line for the new version; never edit a line.
var skipKeyGolden = map[string]string{
	"msb-skip-key/v1": "d21c996db040bffdc48def44a3e72699c5e59ea931eeb242b0a3477f92da2601",
	"msb-skip-key/v2": "19a285e44a55b51b4895fe3b29e561f0ab59b0147d269a245b7364c1ec7131af",
	"msb-skip-key/v3": "aae110f7eb83e35d7a908becf3a89cea2da09633091f0b936f62e9aac1f72f08",
}

// TestSkipKeyGolden proves the encoding does not drift by accident.
func TestSkipKeyGolden(t *testing.T) {
	t.Parallel()
	want, ok := skipKeyGolden[skipKeyVersion]
	if !ok {
		t.Fatalf("no golden key for %s: add one", skipKeyVersion)
	}
	if got := mustSkipKey(t, skipInput(), 2); got != want {
		t.Errorf("skipKey(skipInput()) = %s, want %s: the %s encoding changed; bump skipKeyVersion and add a golden line for the new version", got, want, skipKeyVersion)
	}
}

var benchMB = flag.Int("skipkey-bench-mb", 64, "size in MB of the tree BenchmarkSkipKey hashes")

// BenchmarkSkipKey hashes a tree of a few big files, some medium ones and
// many small ones, read from the page cache through os.DirFS and through
// the build context's FS (what a run uses).
func BenchmarkSkipKey(b *testing.B) {
	dir := benchTree(b)
	b.Run("DirFS", func(b *testing.B) { benchSkipKey(b, dir, os.DirFS(dir)) })
	b.Run("Context", func(b *testing.B) {
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY . /\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		bctx, err := buildcontext.Open(dir, "")
		if err != nil {
			b.Fatal(err)
		}
		benchSkipKey(b, dir, bctx.FS())
	})
}

// benchTree writes the benchmark's tree once.
func benchTree(b *testing.B) string {
	dir := b.TempDir()
	total := int64(*benchMB) << 20
	// A quarter each: 8 MiB files, 1 MiB files, 16 KiB files, 2 KiB files.
	sizes := []int64{8 << 20, 1 << 20, 16 << 10, 2 << 10}
	rng := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	var written int64
	for i, size := range sizes {
		for n := 0; int64(n)*size < total/int64(len(sizes)); n++ {
			p := filepath.Join(dir, fmt.Sprintf("s%d", i), fmt.Sprintf("d%02d", n%32), fmt.Sprintf("f%05d.bin", n))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			for left := size; left > 0; {
				chunk := buf[:min(left, int64(len(buf)))]
				rng.Read(chunk)
				if _, err := f.Write(chunk); err != nil {
					b.Fatal(err)
				}
				left -= int64(len(chunk))
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			written += size
		}
	}
	benchWritten = written
	return dir
}

var benchWritten int64

func benchSkipKey(b *testing.B, dir string, fsys fs.FS) {
	written := benchWritten
	in := SkipInput{FS: fsys, Dockerfile: []byte("FROM scratch\nCOPY . /\n")}
	// One untimed pass, so that -benchtime 3x measures the steady state
	// (the tree's inodes and pages cached) and not the first pass alone.
	if _, err := SkipKey(context.Background(), in); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(written)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SkipKey(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
