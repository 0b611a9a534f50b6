package cache

import (
	"io/fs"
	"maps"
	"slices"
	"testing/fstest"
)

// cloneFS copies m deeply enough that changing a file of the copy leaves m
// as it was.
func cloneFS(m fstest.MapFS) fstest.MapFS {
	out := make(fstest.MapFS, len(m))
	for name, f := range m {
		c := *f
		c.Data = slices.Clone(f.Data)
		out[name] = &c
	}
	return out
}

// reversedFS lists every directory in reverse order, so that a walk visits
// entries in another order than fs.WalkDir over a sorted listing would.
type reversedFS struct{ fsys fs.FS }

var (
	_ fs.ReadDirFS  = reversedFS{}
	_ fs.ReadLinkFS = reversedFS{}
)

func (r reversedFS) Open(name string) (fs.File, error) { return r.fsys.Open(name) }

func (r reversedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := fs.ReadDir(r.fsys, name)
	slices.Reverse(ents)
	return ents, err
}

func (r reversedFS) ReadLink(name string) (string, error)   { return fs.ReadLink(r.fsys, name) }
func (r reversedFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(r.fsys, name) }

// withFiles returns a copy of m with files added or replaced.
func withFiles(m fstest.MapFS, files fstest.MapFS) fstest.MapFS {
	out := cloneFS(m)
	maps.Copy(out, cloneFS(files))
	return out
}
