package buildcontext

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkContextWalk measures what a run pays for the context before the
// build: Open (which checks every file), a walk of FS with an Lstat of every
// entry (the dependency key's and the skip key's walk), and a walk that also
// reads every file (the skip key's reads). The tree is 20,000 small files in
// 200 directories with a .dockerignore, or the directory MSB_BENCH_CONTEXT
// names (the Go module cache, say), with a Dockerfile from outside it.
func BenchmarkContextWalk(b *testing.B) {
	dir := os.Getenv("MSB_BENCH_CONTEXT")
	df := ""
	if dir == "" {
		dir = b.TempDir()
		files := map[string]string{
			"Dockerfile":    "FROM scratch\nCOPY . /\n",
			".dockerignore": "**/*.tmp\nout\n!out/keep\n",
		}
		for d := range 200 {
			for f := range 100 {
				files[fmt.Sprintf("src/d%03d/f%03d.go", d, f)] = fmt.Sprintf("package d%03d // %d\n", d, f)
			}
			files[fmt.Sprintf("src/d%03d/x.tmp", d)] = "tmp"
		}
		files["out/keep"] = "k"
		files["out/drop"] = "d"
		writeContextTree(b, dir, files)
	} else {
		df = filepath.Join(b.TempDir(), "Dockerfile")
		if err := os.WriteFile(df, []byte("FROM scratch\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	open := func(b *testing.B) *Context {
		c, err := Open(dir, df)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	b.Run("Open", func(b *testing.B) {
		for b.Loop() {
			open(b).Close()
		}
	})
	b.Run("Walk", func(b *testing.B) {
		c := open(b)
		defer c.Close()
		n := 0
		for b.Loop() {
			n = 0
			err := fs.WalkDir(c.FS(), ".", func(_ string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				_, err = d.Info()
				n++
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n), "entries")
	})
	b.Run("WalkRead", func(b *testing.B) {
		c := open(b)
		defer c.Close()
		fsys := c.FS()
		buf := make([]byte, 32<<10)
		for b.Loop() {
			err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				f, err := fsys.Open(name)
				if err != nil {
					return err
				}
				defer f.Close()
				if _, err := f.Stat(); err != nil {
					return err
				}
				_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
