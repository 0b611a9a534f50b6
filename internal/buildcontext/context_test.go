package buildcontext

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeContextTree writes files (path: content) under dir; a path ending in
// "/" is an empty directory.
func writeContextTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustOpenContext(t *testing.T, dir, dockerfile string) *Context {
	t.Helper()
	c, err := Open(dir, dockerfile)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return c
}

type tarEntry struct {
	hdr     *tar.Header
	content []byte
}

// readContextTar reads the whole tar of c, by entry name without a trailing
// slash.
func readContextTar(t *testing.T, c *Context) map[string]tarEntry {
	t.Helper()
	rc, err := c.Tar()
	if err != nil {
		t.Fatalf("Tar: %v", err)
	}
	defer rc.Close()
	out := map[string]tarEntry{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("reading the tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s from the tar: %v", hdr.Name, err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if _, dup := out[name]; dup {
			t.Errorf("the tar holds %s twice", name)
		}
		out[name] = tarEntry{hdr, b}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// walkContextFS lists every path of fsys but the root, the way a hashing
// walker sees it.
func walkContextFS(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name != "." {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the context FS: %v", err)
	}
	slices.Sort(names)
	return names
}

func TestContextDockerignore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ignore string
		files  map[string]string
		want   []string
	}{{
		name:   "no ignore file",
		ignore: "",
		files:  map[string]string{"a.txt": "a", "dir/b.txt": "b"},
		want:   []string{"Dockerfile", "a.txt", "dir", "dir/b.txt"},
	}, {
		name: "patterns and comments",
		ignore: `# build output
bin
  obj/  
*.log
/secret.txt
#not-a-pattern.txt
`,
		files: map[string]string{
			"bin/app": "", "obj/x.o": "", "debug.log": "", "src/debug.log": "", "secret.txt": "",
			"#not-a-pattern.txt": "", "src/main.cs": "",
		},
		want: []string{"#not-a-pattern.txt", ".dockerignore", "Dockerfile", "src", "src/debug.log", "src/main.cs"},
	}, {
		name:   "double star",
		ignore: "**/*.log\n**/node_modules\ndocs/**/*.md\n",
		files: map[string]string{
			"a.log": "", "x/y/z.log": "", "web/node_modules/m/i.js": "", "node_modules/n.js": "",
			"docs/a.md": "", "docs/deep/er/b.md": "", "docs/c.txt": "", "keep.md": "",
		},
		want: []string{".dockerignore", "Dockerfile", "docs", "docs/c.txt", "docs/deep", "docs/deep/er", "keep.md", "web", "x", "x/y"},
	}, {
		name:   "negation",
		ignore: "*.md\n!README.md\nlogs\n!logs/keep.txt\n",
		files: map[string]string{
			"CHANGES.md": "", "README.md": "", "logs/a.txt": "", "logs/keep.txt": "", "logs/deep/b.txt": "",
		},
		// logs is excluded, but the tar carries it above logs/keep.txt, as
		// BuildKit's session does.
		want: []string{".dockerignore", "Dockerfile", "README.md", "logs", "logs/keep.txt"},
	}, {
		name:   "a later pattern wins",
		ignore: "!important.txt\n*.txt\n",
		files:  map[string]string{"important.txt": "", "other.txt": ""},
		want:   []string{".dockerignore", "Dockerfile"},
	}, {
		name:   "visual studio ignore file excludes itself and the Dockerfile",
		ignore: "**/.dockerignore\n**/.git\n**/bin\n**/obj\n**/Dockerfile*\nLICENSE\n!**/.gitignore\n!.git/HEAD\n",
		files: map[string]string{
			".git/HEAD": "ref", ".git/config": "", "App/bin/Debug/App.dll": "", "App/obj/x": "", "App/App.csproj": "",
			"App/Dockerfile.old": "", ".gitignore": "", "LICENSE": "",
		},
		want: []string{".git", ".git/HEAD", ".gitignore", "App", "App/App.csproj", "Dockerfile"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeContextTree(t, dir, tt.files)
			writeContextTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})
			if tt.ignore != "" {
				writeContextTree(t, dir, map[string]string{".dockerignore": tt.ignore})
			}
			c := mustOpenContext(t, dir, "")
			if diff := cmp.Diff(tt.want, sortedKeys(readContextTar(t, c))); diff != "" {
				t.Errorf("tar entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, walkContextFS(t, c.FS())); diff != "" {
				t.Errorf("FS paths (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContextIgnoreFilePrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		dockerfile string // relative to the context; "" for the default
		want       []string
	}{{
		name: "the Dockerfile's own ignore file wins",
		want: []string{".dockerignore", "Dockerfile", "Dockerfile.dockerignore", "b.txt", "docker", "docker/app.Dockerfile", "docker/app.Dockerfile.dockerignore"},
	}, {
		name:       "a Dockerfile elsewhere with its own ignore file",
		dockerfile: "docker/app.Dockerfile",
		want:       []string{".dockerignore", "Dockerfile", "Dockerfile.dockerignore", "a.txt", "docker", "docker/app.Dockerfile", "docker/app.Dockerfile.dockerignore"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeContextTree(t, dir, map[string]string{
				"Dockerfile":                         "FROM scratch\n",
				".dockerignore":                      "c.txt\n",
				"Dockerfile.dockerignore":            "a.txt\nc.txt\n",
				"docker/app.Dockerfile":              "FROM scratch\n",
				"docker/app.Dockerfile.dockerignore": "b.txt\nc.txt\n",
				"a.txt":                              "",
				"b.txt":                              "",
				"c.txt":                              "",
			})
			df := ""
			if tt.dockerfile != "" {
				df = filepath.Join(dir, tt.dockerfile)
			}
			c := mustOpenContext(t, dir, df)
			if diff := cmp.Diff(tt.want, sortedKeys(readContextTar(t, c))); diff != "" {
				t.Errorf("tar entries (-want +got):\n%s", diff)
			}
		})
	}

	// Without a Dockerfile-specific file, <dir>/.dockerignore applies to a
	// Dockerfile anywhere.
	dir := t.TempDir()
	writeContextTree(t, dir, map[string]string{
		".dockerignore": "a.txt\n", "a.txt": "", "docker/app.Dockerfile": "FROM scratch\n",
	})
	c := mustOpenContext(t, dir, filepath.Join(dir, "docker", "app.Dockerfile"))
	if diff := cmp.Diff([]string{".dockerignore", "docker", "docker/app.Dockerfile"}, sortedKeys(readContextTar(t, c))); diff != "" {
		t.Errorf("tar entries (-want +got):\n%s", diff)
	}
}

func TestContextExcludedDockerfileIsSent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ignore     string
		dockerfile string
		want       []string
	}{{
		name:       "excluded by name",
		ignore:     "Dockerfile\n.dockerignore\n",
		dockerfile: "Dockerfile",
		want:       []string{"Dockerfile", "app.cs", "docker", "docker/Dockerfile", "docker/[x]*.Dockerfile", "docker/other"},
	}, {
		name:       "excluded with its directory",
		ignore:     "docker\n",
		dockerfile: "docker/Dockerfile",
		want:       []string{".dockerignore", "Dockerfile", "app.cs", "docker", "docker/Dockerfile"},
	}, {
		name:       "excluded by a wildcard, with pattern characters in its name",
		ignore:     "**/*Dockerfile*\n",
		dockerfile: "docker/[x]*.Dockerfile",
		want:       []string{".dockerignore", "app.cs", "docker", "docker/[x]*.Dockerfile", "docker/other"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeContextTree(t, dir, map[string]string{
				"Dockerfile": "FROM root\n", "docker/Dockerfile": "FROM nested\n", "docker/[x]*.Dockerfile": "FROM odd\n",
				"docker/other": "", "app.cs": "", ".dockerignore": tt.ignore,
			})
			c := mustOpenContext(t, dir, filepath.Join(dir, tt.dockerfile))
			if got, want := c.DockerfileName(), tt.dockerfile; got != want {
				t.Errorf("DockerfileName() = %q, want %q", got, want)
			}
			entries := readContextTar(t, c)
			if diff := cmp.Diff(tt.want, sortedKeys(entries)); diff != "" {
				t.Errorf("tar entries (-want +got):\n%s", diff)
			}
			if got, want := string(entries[c.DockerfileName()].content), string(c.Dockerfile()); got != want {
				t.Errorf("the tar's Dockerfile = %q, want %q", got, want)
			}
		})
	}
}

func TestContextDockerfileOutside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeContextTree(t, dir, map[string]string{"app.go": "package main\n", ".dockerignore": "*.tmp\n", "x.tmp": ""})
	elsewhere := t.TempDir()
	df := filepath.Join(elsewhere, "Dockerfile")
	writeContextTree(t, elsewhere, map[string]string{"Dockerfile": "FROM scratch\nCOPY . .\n"})

	c := mustOpenContext(t, dir, df)
	name := c.DockerfileName()
	if !strings.HasPrefix(name, ".dockerfile.") || strings.Contains(name, "/") {
		t.Fatalf("DockerfileName() = %q, want .dockerfile.<suffix> at the top of the tar", name)
	}
	entries := readContextTar(t, c)
	if diff := cmp.Diff([]string{name, ".dockerignore", "app.go"}, sortedKeys(entries)); diff != "" {
		t.Errorf("tar entries (-want +got):\n%s", diff)
	}
	e := entries[name]
	if got, want := string(e.content), "FROM scratch\nCOPY . .\n"; got != want {
		t.Errorf("the tar's Dockerfile = %q, want %q", got, want)
	}
	if e.hdr.Typeflag != tar.TypeReg || e.hdr.Uid != 0 || e.hdr.Gid != 0 || e.hdr.Mode != 0o644 {
		t.Errorf("the tar's Dockerfile header = type %c uid %d gid %d mode %o, want a regular file, 0, 0, 644", e.hdr.Typeflag, e.hdr.Uid, e.hdr.Gid, e.hdr.Mode)
	}

	// The FS shows the tar's view, the added Dockerfile included.
	if diff := cmp.Diff([]string{name, ".dockerignore", "app.go"}, walkContextFS(t, c.FS())); diff != "" {
		t.Errorf("FS paths (-want +got):\n%s", diff)
	}
	b, err := fs.ReadFile(c.FS(), name)
	if err != nil || string(b) != string(c.Dockerfile()) {
		t.Errorf("ReadFile(%s) = %q, %v; want the Dockerfile", name, b, err)
	}

	// The name is stable, so that COPY . . stays cached, and follows the
	// content.
	if got, want := mustOpenContext(t, dir, df).DockerfileName(), name; got != want {
		t.Errorf("DockerfileName() on reopening = %q, want %q", got, want)
	}
	writeContextTree(t, elsewhere, map[string]string{"Dockerfile": "FROM scratch\n"})
	if got := mustOpenContext(t, dir, df).DockerfileName(); got == name {
		t.Errorf("DockerfileName() = %q for a changed Dockerfile, want another name", got)
	}
}

func TestContextSymlinks(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeContextTree(t, outside, map[string]string{"secret.txt": "TOP-SECRET", "dir/inner.txt": "INNER-SECRET"})
	dir := t.TempDir()
	writeContextTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\n", "real/file.txt": "inside", ".dockerignore": "hidden.txt\n", "hidden.txt": "HIDDEN"})
	links := map[string]string{
		"to-secret":    filepath.Join(outside, "secret.txt"),                   // absolute, to a file outside
		"to-dir":       "../" + filepath.Base(outside) + "/dir",                // relative, to a directory outside
		"escape":       "real/../../" + filepath.Base(outside) + "/secret.txt", // through a directory, then out
		"to-file":      "real/file.txt",                                        // inside
		"to-real":      "real",                                                 // a directory inside
		"to-hidden":    "hidden.txt",                                           // an excluded file
		"dangling":     "nowhere",
		"loop":         "loop",
		"real/up-file": "../real/file.txt",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	c := mustOpenContext(t, dir, "")

	entries := readContextTar(t, c)
	for name, target := range links {
		e, ok := entries[name]
		if !ok {
			t.Errorf("the tar lacks the link %s", name)
			continue
		}
		if e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != target || len(e.content) != 0 {
			t.Errorf("%s in the tar: type %c, link %q, %d bytes; want a symlink to %q", name, e.hdr.Typeflag, e.hdr.Linkname, len(e.content), target)
		}
	}
	for name, e := range entries {
		if strings.HasPrefix(name, "to-dir/") || strings.HasPrefix(name, "to-real/") {
			t.Errorf("the tar holds %s, below a link", name)
		}
		if bytes.Contains(e.content, []byte("SECRET")) || bytes.Contains(e.content, []byte("HIDDEN")) {
			t.Errorf("the tar holds content from outside the context or an excluded file in %s", name)
		}
	}

	fsys := c.FS().(fs.ReadLinkFS)
	for name, target := range links {
		info, err := fsys.Lstat(name)
		if err != nil || info.Mode().Type() != fs.ModeSymlink || info.Name() != path.Base(name) {
			t.Errorf("Lstat(%s) = %v, %v; want a symlink named %s", name, info, err, path.Base(name))
		}
		if got, err := fsys.ReadLink(name); err != nil || got != target {
			t.Errorf("ReadLink(%s) = %q, %v; want %q", name, got, err, target)
		}
	}

	tests := []struct {
		name string
		want string // content, when it opens
		err  error  // else, what errors.Is finds
	}{
		{name: "to-file", want: "inside"},
		{name: "real/up-file", want: "inside"},
		{name: "to-real/file.txt", want: "inside"},
		{name: "to-secret", err: errOutsideContext},
		{name: "to-dir", err: errOutsideContext},
		{name: "to-dir/inner.txt", err: errOutsideContext},
		{name: "escape", err: errOutsideContext},
		{name: "to-hidden", err: fs.ErrNotExist},
		{name: "hidden.txt", err: fs.ErrNotExist},
		{name: "dangling", err: fs.ErrNotExist},
		{name: "loop", err: syscall.ELOOP},
		{name: "../" + filepath.Base(outside) + "/secret.txt", err: fs.ErrInvalid},
		{name: filepath.Join(outside, "secret.txt"), err: fs.ErrInvalid},
		{name: "real/../to-secret", err: fs.ErrInvalid},
		{name: "Dockerfile/x", err: syscall.ENOTDIR},
	}
	for _, tt := range tests {
		b, err := fs.ReadFile(fsys, tt.name)
		if tt.err == nil {
			if err != nil || string(b) != tt.want {
				t.Errorf("ReadFile(%s) = %q, %v; want %q", tt.name, b, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("ReadFile(%s) error = %v, want %v", tt.name, err, tt.err)
		}
		if _, err := fs.Stat(fsys, tt.name); !errors.Is(err, tt.err) {
			t.Errorf("Stat(%s) error = %v, want %v", tt.name, err, tt.err)
		}
	}
	if _, err := fs.ReadDir(fsys, "to-dir"); !errors.Is(err, errOutsideContext) {
		t.Errorf("ReadDir(to-dir) error = %v, want %v", err, errOutsideContext)
	}
	if _, err := fsys.ReadLink("real"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadLink(real) error = %v, want %v", err, fs.ErrInvalid)
	}
}

// The FS must show exactly what the tar carries, as the skip key hashes the
// FS and the engine builds from the tar.
func TestContextFSMatchesTar(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeContextTree(t, dir, map[string]string{
		".dockerignore": `# nested patterns, negations and exceptions inside excluded directories
*.log
!important.log
**/tmp
secret/
build
!build/keep
!build/keepdir/**
docs/**/*.md
!docs/README.md
ghost
!ghost/never-there
**/node_modules
Dockerfile
`,
		"Dockerfile":              "FROM scratch\n",
		"app/main.go":             "package main\n",
		"app/debug.log":           "",
		"important.log":           "",
		"sub/important.log":       "",
		"sub/deep/tmp/x":          "",
		"tmp/y":                   "",
		"secret/key":              "",
		"build/out.bin":           "",
		"build/keep":              "",
		"build/keepdir/a":         "",
		"build/keepdir/b/c":       "",
		"build/other/d":           "",
		"docs/guide.md":           "",
		"docs/api/ref.md":         "",
		"docs/README.md":          "",
		"docs/img.png":            "",
		"ghost/file":              "",
		"node_modules/x/index.js": "",
		"web/node_modules/y.js":   "",
		"web/index.html":          "",
		"empty/":                  "",
		"sub/emptydir/":           "",
	})
	if err := os.Symlink("app/main.go", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "build", "keepdir", "etc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "app", "main.go"), filepath.Join(dir, "hard")); err != nil {
		t.Fatal(err)
	}
	// A named pipe: carried as an entry without content.
	haveFifo := exec.Command("mkfifo", filepath.Join(dir, "fifo")).Run() == nil
	if !haveFifo {
		t.Log("no named pipe in the tree: mkfifo failed")
	}
	// A socket: the tar writer cannot hold one and leaves it out.
	if l, err := net.Listen("unix", filepath.Join(dir, "ctl")); err == nil {
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
	} else {
		t.Logf("no socket in the tree: %v", err)
	}

	c := mustOpenContext(t, dir, "")
	tarNames := sortedKeys(readContextTar(t, c))
	fsNames := walkContextFS(t, c.FS())
	if diff := cmp.Diff(tarNames, fsNames); diff != "" {
		t.Errorf("FS paths differ from the tar's entries (-tar +fs):\n%s", diff)
	}

	// And the tree exercises what it means to.
	for _, tt := range []struct {
		name      string
		inTar     bool
		inFS      bool
		rationale string
	}{
		{"Dockerfile", true, true, "excluded, sent anyway"},
		{"important.log", true, true, "exception"},
		{"sub/important.log", true, true, "*.log matches only at the top"},
		{"build", true, true, "excluded directory above its exceptions, an entry as in a session"},
		{"build/keep", true, true, "exception inside an excluded directory"},
		{"build/keepdir/b/c", true, true, "exception with **"},
		{"build/keepdir/etc", true, true, "a symlink, not followed"},
		{"build/other", false, false, "excluded, no exception below"},
		{"ghost", false, false, "excluded directory whose exception matches nothing"},
		{"docs/README.md", true, true, "exception"},
		{"docs/api/ref.md", false, false, "**"},
		{"web/node_modules", false, false, "**"},
		{"empty", true, true, "empty directory"},
		{"link", true, true, "symlink"},
		{"hard", true, true, "hard link"},
		{"fifo", haveFifo, haveFifo, "named pipe"},
		{"ctl", false, false, "socket"},
	} {
		if got := slices.Contains(tarNames, tt.name); got != tt.inTar {
			t.Errorf("%s in the tar = %v, want %v (%s)", tt.name, got, tt.inTar, tt.rationale)
		}
		if got := slices.Contains(fsNames, tt.name); got != tt.inFS {
			t.Errorf("%s in the FS = %v, want %v (%s)", tt.name, got, tt.inFS, tt.rationale)
		}
	}

	// Modes and contents agree too, as the key hashes them.
	entries := readContextTar(t, c)
	for _, name := range tarNames {
		info, err := fs.Lstat(c.FS(), name)
		if err != nil {
			t.Errorf("Lstat(%s): %v", name, err)
			continue
		}
		hdr := entries[name].hdr
		if got, want := info.Mode().Perm(), fs.FileMode(hdr.Mode).Perm(); got != want {
			t.Errorf("%s: FS mode %v, tar mode %v", name, got, want)
		}
		if info.Mode().IsRegular() && hdr.Typeflag == tar.TypeReg {
			b, err := fs.ReadFile(c.FS(), name)
			if err != nil || !bytes.Equal(b, entries[name].content) {
				t.Errorf("%s: FS content %q (%v), tar content %q", name, b, err, entries[name].content)
			}
		}
	}
}

func TestContextFSConformance(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeContextTree(t, dir, map[string]string{
		".dockerignore": "skip\nlogs\n!logs/keep\n",
		"a.txt":         "a", "skip/x": "", "logs/keep": "k", "logs/drop": "", "d/e/f.txt": "f", "empty/": "",
	})
	if err := os.Symlink("d/e", filepath.Join(dir, "dlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "flink")); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	writeContextTree(t, elsewhere, map[string]string{"Dockerfile": "FROM scratch\n"})
	c := mustOpenContext(t, dir, filepath.Join(elsewhere, "Dockerfile"))
	if err := fstest.TestFS(c.FS(), "a.txt", "logs/keep", "d/e/f.txt", "empty", "dlink", "flink", c.DockerfileName()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"skip", "skip/x", "logs/drop"} {
		if _, err := fs.Stat(c.FS(), name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%s) error = %v, want %v", name, err, fs.ErrNotExist)
		}
	}
}

// The FS is safe for concurrent use, as a hashing walker may read in
// parallel.
func TestContextFSConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{"Dockerfile": "FROM scratch\n", ".dockerignore": "**/*.tmp\nout\n!out/keep\n"}
	for i := range 20 {
		d := string(rune('a' + i))
		files[d+"/x.txt"] = d
		files[d+"/y.tmp"] = d
		files["out/"+d] = d
	}
	files["out/keep"] = "k"
	writeContextTree(t, dir, files)
	c := mustOpenContext(t, dir, "")
	want := walkContextFS(t, c.FS())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			fsys := c.FS()
			if diff := cmp.Diff(want, walkContextFS(t, fsys)); diff != "" {
				t.Errorf("a concurrent walk differs (-want +got):\n%s", diff)
			}
			for _, name := range want {
				if _, err := fs.Stat(fsys, name); err != nil {
					t.Errorf("Stat(%s): %v", name, err)
				}
			}
		})
	}
	wg.Wait()
}

func TestOpenContextErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeContextTree(t, dir, map[string]string{"ctx/Dockerfile.d/": "", "file": "", "ctx/.dockerignore": "[\n"})
	tests := []struct {
		name       string
		dir        string
		dockerfile string
		want       []string // parts of the message
		notExist   bool
	}{
		{name: "missing directory", dir: filepath.Join(dir, "nope"), want: []string{"opening build context", filepath.Join(dir, "nope")}, notExist: true},
		{name: "a file, not a directory", dir: filepath.Join(dir, "file"), want: []string{filepath.Join(dir, "file") + " is not a directory"}},
		{name: "missing default Dockerfile", dir: dir, want: []string{"opening Dockerfile", filepath.Join(dir, "Dockerfile")}, notExist: true},
		{name: "missing Dockerfile", dir: dir, dockerfile: filepath.Join(dir, "app.Dockerfile"), want: []string{"opening Dockerfile", filepath.Join(dir, "app.Dockerfile")}, notExist: true},
		{name: "Dockerfile is a directory", dir: dir, dockerfile: filepath.Join(dir, "ctx", "Dockerfile.d"), want: []string{filepath.Join(dir, "ctx", "Dockerfile.d") + " is not a regular file"}},
		{name: "bad pattern", dir: filepath.Join(dir, "ctx"), dockerfile: filepath.Join(dir, "file"), want: []string{"reading " + filepath.Join(dir, "ctx", ".dockerignore"), "syntax error in pattern"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Open(tt.dir, tt.dockerfile)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error = %q, want it to contain %q", err, want)
				}
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tt.notExist)
			}
		})
	}
}

func TestOpenContextUnreadableFile(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	dir := t.TempDir()
	writeContextTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\n", "locked": "x", "ignored": "x", ".dockerignore": "ignored\n"})
	for _, name := range []string{"locked", "ignored"} {
		if err := os.Chmod(filepath.Join(dir, name), 0); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Open(dir, "")
	if err == nil || !strings.Contains(err.Error(), "locked") || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Open error = %v, want a permission error naming locked", err)
	}
}

func TestContextAccessors(t *testing.T) {
	t.Parallel()
	target := t.TempDir()
	writeContextTree(t, target, map[string]string{"Dockerfile": "FROM scratch\n"})
	link := filepath.Join(t.TempDir(), "ctx")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	c := mustOpenContext(t, link, "")
	want, err := filepath.EvalSymlinks(target)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Dir(); got != want {
		t.Errorf("Dir() = %q, want %q", got, want)
	}
	if got, want := string(c.Dockerfile()), "FROM scratch\n"; got != want {
		t.Errorf("Dockerfile() = %q, want %q", got, want)
	}
	if got, want := c.DockerfileName(), "Dockerfile"; got != want {
		t.Errorf("DockerfileName() = %q, want %q", got, want)
	}
	// The Dockerfile is read once: later edits do not change what is built.
	writeContextTree(t, target, map[string]string{"Dockerfile": "FROM alpine\n"})
	if got, want := string(c.Dockerfile()), "FROM scratch\n"; got != want {
		t.Errorf("Dockerfile() after an edit = %q, want %q", got, want)
	}
}

func TestContextTarHeaders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeContextTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\n", "run.sh": "#!/bin/sh\n", "key": "k", "d/f": "f"})
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("run.sh", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Owned by someone else on the host: the tar still says root.
		for _, name := range []string{"run.sh", "d", "d/f"} {
			if err := os.Lchown(filepath.Join(dir, name), 1234, 5678); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := mustOpenContext(t, dir, "")
	got := map[string]string{}
	for name, e := range readContextTar(t, c) {
		h := e.hdr
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d:%d (%q:%q), want 0:0", name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		got[name] = string(rune(h.Typeflag)) + " " + fs.FileMode(h.Mode).Perm().String()
	}
	want := map[string]string{
		"Dockerfile": "0 -rw-r--r--",
		"run.sh":     "0 -rwxr-xr-x",
		"key":        "0 -rw-------",
		"d":          "5 -rwxr-xr-x",
		"d/f":        "0 -rw-r--r--",
		"l":          "2 -rwxrwxrwx",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tar types and modes (-want +got):\n%s", diff)
	}
}

// Tar streams: a context far larger than the heap allowance goes through
// while the heap stays small.
func TestContextTarStreams(t *testing.T) {
	t.Parallel()
	const (
		files    = 4
		fileSize = 50 << 20
		maxHeap  = 64 << 20
	)
	dir := t.TempDir()
	writeContextTree(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})
	for i := range files {
		f, err := os.Create(filepath.Join(dir, "blob"+string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		// Sparse: quick to make, read back as zeros.
		if err := f.Truncate(fileSize); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c := mustOpenContext(t, dir, "")

	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})

	rc, err := c.Tar()
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(rc)
	var total int64
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, tr)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()

	if want := int64(files * fileSize); total < want {
		t.Errorf("read %d bytes of file data, want at least %d", total, want)
	}
	if got := peak.Load(); got > maxHeap {
		t.Errorf("peak HeapInuse = %d MB while streaming %d MB, want under %d MB", got>>20, total>>20, maxHeap>>20)
	} else {
		t.Logf("peak HeapInuse %d MB while streaming %d MB", got>>20, total>>20)
	}
}
