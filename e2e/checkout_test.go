package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/org/ms-build-action/internal/testenv"
)

// Builds from real checkouts: each run gets a fresh git clone (a real .git,
// its bytes its own) on a fresh runner, as CI gives them.

// origin is a repository that checkouts are cloned from.
type origin struct {
	t   *testing.T
	dir string
}

func newOrigin(t *testing.T, files map[string]string) *origin {
	t.Helper()
	o := &origin{t: t, dir: t.TempDir()}
	o.git("init", "-q", "-b", "main")
	o.commit(files, "fixture")
	return o
}

func (o *origin) git(args ...string) string {
	o.t.Helper()
	return runGit(o.t, o.dir, args...)
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files and commits them; it returns the commit id.
func (o *origin) commit(files map[string]string, msg string) string {
	o.t.Helper()
	for name, content := range files {
		if err := os.MkdirAll(filepath.Join(o.dir, filepath.Dir(name)), 0o755); err != nil {
			o.t.Fatal(err)
		}
		write(o.t, o.dir, name, content)
	}
	o.git("add", "-A")
	o.git("commit", "-q", "-m", msg)
	return o.git("rev-parse", "HEAD")
}

// clone is a fresh checkout of the origin's HEAD, as a CI runner makes it.
func (o *origin) clone() string {
	o.t.Helper()
	dst := filepath.Join(o.t.TempDir(), "checkout")
	runGit(o.t, filepath.Dir(dst), "clone", "-q", "--no-local", o.dir, dst)
	return dst
}

// fixture reads the files of a testdata fixture, placed under prefix.
func fixture(t *testing.T, name, prefix string) map[string]string {
	t.Helper()
	files := map[string]string{}
	root := filepath.Join("testdata", name)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		files[prefix+filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// blobUploads counts the registry requests that upload a blob.
type blobUploads struct{ n atomic.Int64 }

func (b *blobUploads) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/uploads") && r.Method != http.MethodGet && r.Method != http.MethodHead {
			b.n.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// builtFrom reads the building revision out of the metadata output.
func builtFrom(t *testing.T, r result) string {
	t.Helper()
	var m struct {
		BuiltFrom string `json:"built-from"`
	}
	if err := json.Unmarshal([]byte(r.outputs["metadata"]), &m); err != nil {
		t.Fatalf("metadata %q: %v", r.outputs["metadata"], err)
	}
	return m.BuiltFrom
}

// TestCheckoutSameCommitSkips: two fresh clones of one commit, each on a
// fresh runner, with the .git in the context: the second run skips with
// the first one's digest, and both say what the .git costs.
func TestCheckoutSameCommitSkips(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	o := newOrigin(t, fixture(t, "twostage", ""))
	commit := o.git("rev-parse", "HEAD")
	inputs := map[string]string{"repository": "acme/app", "network": "none", "tags": "first"}

	testenv.FreshRunner(t, docker)
	first := github(t, o.clone(), e, inputs, "GITHUB_SHA="+commit)
	if first.code != 0 {
		t.Fatalf("first run: exit code %d", first.code)
	}
	if !strings.Contains(first.logs(), "the build context holds .git (") {
		t.Error("first run: no notice of the .git in the context")
	}

	testenv.FreshRunner(t, docker)
	inputs["tags"] = "second"
	second := github(t, o.clone(), e, inputs, "GITHUB_SHA="+commit)
	if second.code != 0 {
		t.Fatalf("second run: exit code %d", second.code)
	}
	if got := second.outputs["skipped"]; got != "true" {
		t.Errorf("a fresh clone of the same commit: skipped = %s, want true", got)
	}
	if got, want := second.outputs["digest"], first.outputs["digest"]; got != want {
		t.Errorf("a fresh clone of the same commit: digest %s, want %s", got, want)
	}
	if n := testenv.BuildCacheRecords(t, docker); n != 0 {
		t.Errorf("the skipped run left %d build cache records: it built", n)
	}
}

// TestMonorepoSkipsOutsideCommit: the context is a service's folder of a
// monorepo; a commit that changes only files outside it skips on a fresh
// runner, attaches its tag to the same digest, moves no blob, and names
// the commit that built the image.
func TestMonorepoSkipsOutsideCommit(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	var uploads blobUploads
	e := testenv.StartECR(t, testenv.GGCR, testenv.Options{WrapRegistry: uploads.wrap})
	files := fixture(t, "twostage", "services/app/")
	files["docs/README.md"] = "# The monorepo\n"
	o := newOrigin(t, files)
	c1 := o.git("rev-parse", "HEAD")
	inputs := map[string]string{"repository": "acme/app", "network": "none", "context": "services/app", "tags": "c1"}

	testenv.FreshRunner(t, docker)
	first := github(t, o.clone(), e, inputs, "GITHUB_SHA="+c1)
	if first.code != 0 {
		t.Fatalf("first run: exit code %d", first.code)
	}
	if uploads.n.Load() == 0 {
		t.Fatal("the first run uploaded no blob: the counter sees nothing")
	}

	c2 := o.commit(map[string]string{"docs/README.md": "# The monorepo, documented\n"}, "docs only")
	uploads.n.Store(0)
	testenv.FreshRunner(t, docker)
	inputs["tags"] = "c2"
	second := github(t, o.clone(), e, inputs, "GITHUB_SHA="+c2)
	if second.code != 0 {
		t.Fatalf("second run: exit code %d", second.code)
	}
	if got := second.outputs["skipped"]; got != "true" {
		t.Errorf("a commit outside the context: skipped = %s, want true", got)
	}
	if got, want := second.outputs["digest"], first.outputs["digest"]; got != want {
		t.Errorf("a commit outside the context: digest %s, want %s", got, want)
	}
	if got, want := second.outputs["tags"], e.Registry+"/acme/app:c2"; got != want {
		t.Errorf("tags = %q, want %q", got, want)
	}
	if n := uploads.n.Load(); n != 0 {
		t.Errorf("the skip made %d blob upload requests, want none", n)
	}
	if got := builtFrom(t, second); got != c1 {
		t.Errorf("metadata built-from = %q, want the commit that built the image, %s", got, c1)
	}
}

// TestTwoServicesKeepTheirCache: a context with two services, each its own
// Dockerfile and dependency file; a dependency change in one leaves the
// other's key, and the other's next build on a fresh runner hits its cache.
func TestTwoServicesKeepTheirCache(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	service := func(name string) string {
		return "FROM msb-test/sdk:1 AS build\nWORKDIR /src\nCOPY " + name + "/requirements.txt ./\nRUN restore requirements.txt\nCOPY " + name + "/ .\nRUN compile /out\n\nFROM msb-test/busybox:1\nCOPY --from=build /out/ /app/\n"
	}
	o := newOrigin(t, map[string]string{
		"a/Dockerfile": service("a"), "a/requirements.txt": "left-pad\n", "a/message.txt": "service a\n",
		"b/Dockerfile": service("b"), "b/requirements.txt": "newtonsoft-json\n", "b/message.txt": "service b\n",
	})
	run := func(svc, tag string) result {
		t.Helper()
		testenv.FreshRunner(t, docker)
		r := github(t, o.clone(), e, map[string]string{"repository": "acme/" + svc, "network": "none", "file": svc + "/Dockerfile", "tags": tag}, "GITHUB_SHA="+o.git("rev-parse", "HEAD"))
		if r.code != 0 {
			t.Fatalf("service %s, %s: exit code %d", svc, tag, r.code)
		}
		return r
	}
	a1 := run("a", "1")
	run("b", "1")

	o.commit(map[string]string{"b/requirements.txt": "newtonsoft-json\nserilog\n"}, "b: a new dependency")
	b2 := run("b", "2")
	if !strings.Contains(b2.stdout, "restoring serilog") {
		t.Error("service b's new dependency was not restored")
	}
	a2 := run("a", "2")
	if got, want := a2.outputs["cache-key"], a1.outputs["cache-key"]; got != want {
		t.Errorf("service a's cache-key moved with service b's dependencies: %s, was %s", got, want)
	}
	if got := a2.outputs["cache-hit"]; got != "true" {
		t.Errorf("service a on a fresh runner: cache-hit = %s, want true", got)
	}
	if strings.Contains(a2.stdout, "restoring left-pad") {
		t.Error("service a's restore ran again")
	}
}
