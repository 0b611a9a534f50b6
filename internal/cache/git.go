package cache

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// A .git in the build context is the commit it holds, not its bytes: two
// clones of one commit differ in their index's stat data, their logs and
// their packs, and would never share a skip key. HEAD's commit id is read
// here from the Git directory's own files (HEAD, then the loose ref or
// packed-refs), with no git program.
//
// Whether the work tree is dirty needs no entry of its own: the context's
// other files are hashed one by one, so a work tree that differs from the
// commit differs in the key, and two work trees with the same files on the
// same commit are the same build whatever git status says.

// maxRefDepth bounds a chain of symbolic refs.
const maxRefDepth = 5

// gitDir is a Git directory: where HEAD and the work tree's own refs are,
// and the common directory that holds the shared refs (the same for a
// repository's main work tree; a linked work tree's "commondir").
type gitDir struct {
	own, common fs.FS
}

// headCommit returns the commit id HEAD names in the .git entry at p of
// fsys: a directory, or a file "gitdir: <path>" (a linked work tree, a
// submodule) whose path, when relative, is resolved against dir, the
// context's directory on disk.
func headCommit(fsys fs.FS, p string, isDir bool, dir string) (string, error) {
	g, err := openGitDir(fsys, p, isDir, dir)
	if err != nil {
		return "", err
	}
	head, err := fs.ReadFile(g.own, "HEAD")
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(head))
	for range maxRefDepth {
		ref, ok := strings.CutPrefix(v, "ref:")
		if !ok {
			break
		}
		if v, err = g.ref(strings.TrimSpace(ref)); err != nil {
			return "", err
		}
	}
	if !isObjectID(v) {
		return "", fmt.Errorf("HEAD of %s names no commit", p)
	}
	return strings.ToLower(v), nil
}

func openGitDir(fsys fs.FS, p string, isDir bool, dir string) (gitDir, error) {
	if isDir {
		own, err := fs.Sub(fsys, p)
		if err != nil {
			return gitDir{}, err
		}
		g := gitDir{own: own, common: own}
		if c, err := fs.ReadFile(own, "commondir"); err == nil {
			cp := path.Join(p, strings.TrimSpace(string(c)))
			if !fs.ValidPath(cp) {
				return gitDir{}, fmt.Errorf("the common directory of %s lies outside the context", p)
			}
			if g.common, err = fs.Sub(fsys, cp); err != nil {
				return gitDir{}, err
			}
		}
		return g, nil
	}
	link, err := fs.ReadFile(fsys, p)
	if err != nil {
		return gitDir{}, err
	}
	target, ok := strings.CutPrefix(strings.TrimSpace(string(link)), "gitdir:")
	if !ok {
		return gitDir{}, fmt.Errorf("%s is neither a Git directory nor a gitdir: link", p)
	}
	target = filepath.FromSlash(strings.TrimSpace(target))
	if !filepath.IsAbs(target) {
		if dir == "" {
			return gitDir{}, fmt.Errorf("%s links to %s, relative to a context not on disk", p, target)
		}
		target = filepath.Join(dir, filepath.FromSlash(path.Dir(p)), target)
	}
	g := gitDir{own: os.DirFS(target)}
	g.common = g.own
	if c, err := fs.ReadFile(g.own, "commondir"); err == nil {
		cd := filepath.FromSlash(strings.TrimSpace(string(c)))
		if !filepath.IsAbs(cd) {
			cd = filepath.Join(target, cd)
		}
		g.common = os.DirFS(cd)
	}
	return g, nil
}

// ref returns what a ref holds: an object id or "ref: <another ref>".
// Refs under refs/ live in the common directory, except a work tree's own
// (HEAD-like refs at the top, refs/bisect, refs/worktree, refs/rewritten).
func (g gitDir) ref(name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", fmt.Errorf("ref %q is not a valid name", name)
	}
	dirs := []fs.FS{g.own, g.common}
	if strings.HasPrefix(name, "refs/") && !strings.HasPrefix(name, "refs/bisect/") && !strings.HasPrefix(name, "refs/worktree/") && !strings.HasPrefix(name, "refs/rewritten/") {
		dirs = []fs.FS{g.common, g.own}
	}
	for _, d := range dirs {
		if b, err := fs.ReadFile(d, name); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	if id, ok := packedRef(g.common, name); ok {
		return id, nil
	}
	return "", fmt.Errorf("ref %s not found (a repository with no commit yet?)", name)
}

// packedRef looks name up in packed-refs.
func packedRef(fsys fs.FS, name string) (string, bool) {
	b, err := fs.ReadFile(fsys, "packed-refs")
	if err != nil {
		return "", false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '^' {
			continue
		}
		id, ref, ok := strings.Cut(line, " ")
		if ok && strings.TrimSpace(ref) == name {
			return id, true
		}
	}
	return "", false
}

// isObjectID reports whether s is a SHA-1 or SHA-256 object id in hex.
func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// gitSize is the bytes of the .git entry at p as the context sends them:
// every regular file below a directory, or the file itself.
func gitSize(fsys fs.FS, p string) int64 {
	var n int64
	_ = fs.WalkDir(fsys, p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n += info.Size()
		}
		return nil
	})
	return n
}
