package buildcontext

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// agreeIgnore exercises each way a path leaves or rejoins the context: a
// top-level glob, an excluded directory with an exception below it, a
// directory ignored at any depth, the Dockerfile itself (sent anyway), and,
// in a clone, part of .git with an exception.
const agreeIgnore = `*.log
build
!build/keep/**
**/node_modules
secret/
Dockerfile
.git/hooks
!.git/hooks/update.sample
`

// writeAgreeFixture writes the tree the three views must agree on into dir;
// outside is a directory next to it that a link points into.
func writeAgreeFixture(t *testing.T, dir, outside string) {
	t.Helper()
	writeContextTree(t, dir, map[string]string{
		".dockerignore":            agreeIgnore,
		"Dockerfile":               "FROM scratch\nCOPY . /\n",
		"app/main.go":              "package main\n",
		"app/debug.log":            "kept: *.log matches only at the top",
		"debug.log":                "ignored",
		"build/out.bin":            "ignored",
		"build/keep/a.txt":         "exception under an excluded directory",
		"build/keep/deep/b.txt":    "exception, deeper",
		"web/index.html":           "<html/>",
		"web/node_modules/x.js":    "ignored at any depth",
		"node_modules/y/y.js":      "ignored at the top too",
		"secret/key":               "ignored",
		"empty/":                   "",
		"app/run.sh":               "#!/bin/sh\n",
		"docs/guide/intro.md":      "intro",
		"docs/guide/node_modules/": "",
	})
	if err := os.Chmod(filepath.Join(dir, "app", "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A second name for a file: the tar sends a hard link, the others the
	// file. (A clone has two files.)
	if err := os.Link(filepath.Join(dir, "app", "main.go"), filepath.Join(dir, "hard")); err != nil {
		t.Fatal(err)
	}
	writeContextTree(t, outside, map[string]string{"secret.txt": "OUTSIDE"})
	for name, target := range map[string]string{
		"link-main":     "app/main.go",                                  // inside
		"web/link-app":  "../app",                                       // a directory inside
		"link-out":      "../" + filepath.Base(outside) + "/secret.txt", // relative, out of the context
		"link-abs":      filepath.Join(outside, "secret.txt"),           // absolute, out of the context
		"link-ignored":  "secret/key",                                   // to an ignored file
		"link-dangling": "nowhere",
	} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
}

// describe is how an entry is compared: its type, its permission bits and
// its content (a file's bytes, a link's text).
func describe(mode fs.FileMode, content string) string {
	typ := "file"
	switch {
	case mode.IsDir():
		typ = "dir"
	case mode&fs.ModeSymlink != 0:
		typ = "symlink"
	case !mode.IsRegular():
		typ = "other"
	}
	return fmt.Sprintf("%s %v %q", typ, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), content)
}

// viewOfFS lists c.FS() as the cache keys walk it.
func viewOfFS(t *testing.T, c *Context) map[string]string {
	t.Helper()
	fsys := c.FS()
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		content := ""
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if content, err = fs.ReadLink(fsys, name); err != nil {
				return err
			}
		case d.Type().IsRegular():
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			content = string(b)
		}
		out[name] = describe(info.Mode(), content)
		return nil
	})
	if err != nil {
		t.Fatalf("walking FS: %v", err)
	}
	return out
}

// viewOfTar lists the entries of c.Tar(), a hard link as the file it names.
func viewOfTar(t *testing.T, c *Context) map[string]string {
	t.Helper()
	entries := readContextTar(t, c)
	out := map[string]string{}
	for name, e := range entries {
		hdr := e.hdr
		switch hdr.Typeflag {
		case tar.TypeLink:
			continue // below, once the file it names is described
		case tar.TypeSymlink:
			out[name] = describe(hdr.FileInfo().Mode(), hdr.Linkname)
		default:
			out[name] = describe(hdr.FileInfo().Mode(), string(e.content))
		}
	}
	for name, e := range entries {
		if e.hdr.Typeflag == tar.TypeLink {
			target, ok := out[e.hdr.Linkname]
			if !ok {
				t.Errorf("tar: %s is a hard link to %s, which the tar does not hold", name, e.hdr.Linkname)
			}
			out[name] = target
		}
	}
	return out
}

// viewOfSession lists c.Files() as a BuildKit session sends it: its Walk for
// the entries and their stat, its Open for the content.
func viewOfSession(t *testing.T, c *Context) map[string]string {
	t.Helper()
	files := c.Files()
	out := map[string]string{}
	err := files.Walk(context.Background(), "", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st := info.Sys().(*fstypes.Stat)
		if st.Uid != 0 || st.Gid != 0 {
			t.Errorf("session: %s owned by %d:%d, want 0:0", p, st.Uid, st.Gid)
		}
		mode := fs.FileMode(st.Mode)
		content := ""
		switch {
		case mode&fs.ModeSymlink != 0:
			content = st.Linkname
		case mode.IsRegular():
			rc, err := files.Open(p)
			if err != nil {
				return err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			content = string(b)
		}
		out[filepath.ToSlash(p)] = describe(mode, content)
		return nil
	})
	if err != nil {
		t.Fatalf("walking Files: %v", err)
	}
	return out
}

// TestContextViewsAgree proves the three ways the context leaves this
// package hold the same files: FS (what the cache keys hash), Tar (what a
// build without a session receives) and Files (what a session serves), each
// path with the same type, mode and content. It runs on a plain directory
// and on a fresh git clone, whose .git is part of the context.
func TestContextViewsAgree(t *testing.T) {
	t.Parallel()
	for _, clone := range []bool{false, true} {
		t.Run(map[bool]string{false: "directory", true: "git clone"}[clone], func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			dir := filepath.Join(root, "ctx")
			outside := filepath.Join(root, "outside")
			if !clone {
				writeAgreeFixture(t, dir, outside)
			} else {
				src := filepath.Join(root, "src")
				writeAgreeFixture(t, src, outside)
				// Git keeps no empty directories: the clone has none.
				git(t, src, "init", "-q", "-b", "main")
				// Force-add what the ignore file lists: a repository may
				// well commit them.
				git(t, src, "add", "-A", "-f")
				git(t, src, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "fixture")
				git(t, root, "clone", "-q", src, dir)
			}
			c := mustOpenContext(t, dir, "")

			fsView, tarView, sessionView := viewOfFS(t, c), viewOfTar(t, c), viewOfSession(t, c)
			if diff := cmp.Diff(sessionView, tarView); diff != "" {
				t.Errorf("Tar differs from the session's Files (-session +tar):\n%s", diff)
			}
			if diff := cmp.Diff(sessionView, fsView); diff != "" {
				t.Errorf("FS differs from the session's Files (-session +fs):\n%s", diff)
			}

			// And the fixture exercises what it means to.
			for _, tt := range []struct {
				name string
				want string // "" for absent
			}{
				{"Dockerfile", describe(0o644, "FROM scratch\nCOPY . /\n")},
				{"hard", describe(0o644, "package main\n")},
				{"app/debug.log", describe(0o644, "kept: *.log matches only at the top")},
				{"app/run.sh", describe(0o755, "#!/bin/sh\n")},
				{"build/keep/deep/b.txt", describe(0o644, "exception, deeper")},
				{"build/out.bin", ""},
				{"debug.log", ""},
				{"web/node_modules", ""},
				{"node_modules", ""},
				{"docs/guide/node_modules", ""},
				{"secret", ""},
				{"link-main", describe(fs.ModeSymlink|0o777, "app/main.go")},
				{"web/link-app", describe(fs.ModeSymlink|0o777, "../app")},
				{"link-out", describe(fs.ModeSymlink|0o777, "../outside/secret.txt")},
				{"link-abs", describe(fs.ModeSymlink|0o777, filepath.Join(outside, "secret.txt"))},
				{"link-ignored", describe(fs.ModeSymlink|0o777, "secret/key")},
			} {
				if got := sessionView[tt.name]; got != tt.want {
					t.Errorf("%s = %q, want %q", tt.name, got, tt.want)
				}
			}
			if _, ok := sessionView["build"]; !ok {
				t.Error("build, above an exception, is not an entry")
			}
			for name, v := range sessionView {
				if strings.Contains(v, "OUTSIDE") {
					t.Errorf("%s carries content from outside the context", name)
				}
			}
			if !clone {
				if _, ok := sessionView["empty"]; !ok {
					t.Error("the empty directory is missing")
				}
				return
			}
			n := 0
			for name := range sessionView {
				if strings.HasPrefix(name, ".git/") {
					n++
				}
			}
			if n < 10 {
				t.Errorf("%d entries below .git, want the clone's repository in the context", n)
			}
			if _, ok := sessionView[".git/hooks/update.sample"]; !ok {
				t.Error(".git/hooks/update.sample, an exception, is missing")
			}
			if _, ok := sessionView[".git/hooks/pre-commit.sample"]; ok {
				t.Error(".git/hooks/pre-commit.sample, excluded, is in the context")
			}
			// The link out of the context is never followed, even where
			// its target exists.
			if _, err := fs.ReadFile(c.FS(), "link-out"); !errors.Is(err, errOutsideContext) {
				t.Errorf("ReadFile(link-out) error = %v, want %v", err, errOutsideContext)
			}
		})
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
