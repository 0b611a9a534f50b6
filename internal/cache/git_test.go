package cache

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// git runs git in dir and returns its output, trimmed.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// origin makes a repository with one commit and returns its path and the
// commit id.
func origin(t *testing.T) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	for name, content := range map[string]string{"Dockerfile": "FROM scratch\nCOPY . /\n", "main.c": "int main(void) { return 0; }\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "first")
	return dir, git(t, dir, "rev-parse", "HEAD")
}

func computeSkip(t *testing.T, dir string) Skip {
	t.Helper()
	s, err := ComputeSkip(context.Background(), SkipInput{FS: os.DirFS(dir), Dir: dir, Dockerfile: []byte("FROM scratch\nCOPY . /\n")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSkipKeyGitClones proves that two clones of one commit, whose .git
// bytes differ, make one key, that the .git counts as its commit, and that
// a change to the work tree moves the key.
func TestSkipKeyGitClones(t *testing.T) {
	t.Parallel()
	src, commit := origin(t)
	a, b := t.TempDir(), t.TempDir()
	git(t, a, "clone", "-q", src, ".")
	git(t, b, "clone", "-q", "--no-local", src, ".") // packed objects, other bytes
	git(t, b, "pack-refs", "--all")                  // HEAD's ref only in packed-refs

	ka, kb := computeSkip(t, a), computeSkip(t, b)
	if ka.Key != kb.Key {
		t.Errorf("two clones of one commit: keys %s and %s", ka.Key, kb.Key)
	}
	if len(ka.Git) != 1 || ka.Git[0].Path != ".git" || ka.Git[0].Commit != commit || ka.Git[0].Size == 0 {
		t.Errorf("Git = %+v, want .git at commit %s with its size", ka.Git, commit)
	}

	// A new commit with the same files: the .git names another commit.
	git(t, b, "commit", "-q", "--allow-empty", "-m", "empty")
	if got := computeSkip(t, b).Key; got == ka.Key {
		t.Error("a new commit left the key")
	}
	git(t, b, "reset", "-q", "--hard", commit)
	if got := computeSkip(t, b).Key; got != ka.Key {
		t.Error("back at the first commit, the key differs")
	}
	// A dirty work tree: its files are hashed.
	if err := os.WriteFile(filepath.Join(b, "main.c"), []byte("int main(void) { return 1; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := computeSkip(t, b).Key; got == ka.Key {
		t.Error("a changed work tree left the key")
	}
	// Detached at the same commit: the same key.
	git(t, a, "checkout", "-q", "--detach")
	if got := computeSkip(t, a).Key; got != ka.Key {
		t.Error("a detached HEAD at the same commit moved the key")
	}
}

// TestSkipKeyGitWorktree proves a .git file (a linked work tree) counts as
// the commit of the work tree, read through its gitdir and commondir.
func TestSkipKeyGitWorktree(t *testing.T) {
	t.Parallel()
	src, commit := origin(t)
	wt := filepath.Join(t.TempDir(), "wt")
	git(t, src, "worktree", "add", "-q", "-b", "other", wt)
	s := computeSkip(t, wt)
	if len(s.Git) != 1 || s.Git[0].Commit != commit {
		t.Fatalf("Git = %+v, want the work tree's .git file at %s", s.Git, commit)
	}
	clone := t.TempDir()
	git(t, clone, "clone", "-q", src, ".")
	if got := computeSkip(t, clone).Key; got != s.Key {
		t.Error("a linked work tree and a clone at one commit have different keys")
	}
}

// TestSkipKeyUnreadableGit proves that a .git whose HEAD names no commit is
// hashed as the files it is.
func TestSkipKeyUnreadableGit(t *testing.T) {
	t.Parallel()
	m := fstest.MapFS{
		"main.c":    {Data: []byte("x")},
		".git/HEAD": {Data: []byte("ref: refs/heads/main\n")}, // unborn
		".git/x":    {Data: []byte("1")},
	}
	s, err := ComputeSkip(context.Background(), SkipInput{FS: m})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Git) != 1 || s.Git[0].Commit != "" {
		t.Fatalf("Git = %+v, want one .git with no commit", s.Git)
	}
	m[".git/x"].Data = []byte("2")
	if again, _ := ComputeSkip(context.Background(), SkipInput{FS: m}); again.Key == s.Key {
		t.Error("an unreadable .git's bytes are not in the key")
	}
}

func TestHeadCommitRefs(t *testing.T) {
	t.Parallel()
	const id = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"loose", fstest.MapFS{".git/HEAD": {Data: []byte("ref: refs/heads/main\n")}, ".git/refs/heads/main": {Data: []byte(id + "\n")}}, id},
		{"packed", fstest.MapFS{".git/HEAD": {Data: []byte("ref: refs/heads/main\n")}, ".git/packed-refs": {Data: []byte("# pack-refs with: peeled fully-peeled sorted \n" + strings.Repeat("f", 40) + " refs/heads/other\n" + id + " refs/heads/main\n^" + strings.Repeat("e", 40) + "\n")}}, id},
		{"detached", fstest.MapFS{".git/HEAD": {Data: []byte(strings.ToUpper(id) + "\n")}}, id},
		{"symbolic chain", fstest.MapFS{".git/HEAD": {Data: []byte("ref: refs/heads/a\n")}, ".git/refs/heads/a": {Data: []byte("ref: refs/heads/b\n")}, ".git/refs/heads/b": {Data: []byte(id)}}, id},
		{"loop", fstest.MapFS{".git/HEAD": {Data: []byte("ref: refs/heads/a\n")}, ".git/refs/heads/a": {Data: []byte("ref: refs/heads/a\n")}}, ""},
		{"escaping ref", fstest.MapFS{".git/HEAD": {Data: []byte("ref: ../../etc/passwd\n")}}, ""},
		{"not a git dir", fstest.MapFS{".git/config": {Data: []byte("")}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := headCommit(tt.fs, ".git", true, "")
			if got != tt.want || (tt.want == "") != (err != nil) {
				t.Errorf("headCommit = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
