package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestGitCheckout: on a laptop the tag rules' ref comes from git in the
// build context's checkout (a subfolder of it too): the commit, the branch,
// and the tags at the commit; a detached head has no branch; a folder
// outside any checkout tells nothing.
func TestGitCheckout(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not on PATH")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app", "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	git("init", "-q", "-b", "feature/x")
	git("add", "-A")
	git("commit", "-q", "-m", "one")
	git("tag", "v1.2.3")
	git("tag", "-a", "-m", "annotated", "build-7")
	sha := git("rev-parse", "HEAD")[:40]

	got := gitCheckout(filepath.Join(dir, "app"))
	if got.SHA != sha || got.Branch != "feature/x" || !slices.Equal(got.Tags, []string{"build-7", "v1.2.3"}) {
		t.Errorf("gitCheckout(app) = %+v, want sha %s, branch feature/x, tags build-7 and v1.2.3", got, sha)
	}
	git("checkout", "-q", "--detach")
	if got := gitCheckout(dir); got.Branch != "" || got.SHA != sha {
		t.Errorf("detached: gitCheckout = %+v, want sha %s and no branch", got, sha)
	}
	if got := gitCheckout(t.TempDir()); got.SHA != "" || len(got.Tags) != 0 {
		t.Errorf("outside a checkout: gitCheckout = %+v, want nothing", got)
	}
}
