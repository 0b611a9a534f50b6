package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The fake gh of the SHA-pin test. Debian's gh (2.23) has no `attestation`
// command, and a real verification needs GitHub's API and Sigstore, out of
// reach here. It answers as `gh attestation verify` does for the flags the
// script uses: exit 0 when the file's digest was attested (a line "<sha256>
// <source commit> <source ref>" in ATTESTED) and the attestation's source
// commit and ref match --source-digest and --source-ref when given; exit 1
// with gh's kind of error otherwise. It records its arguments in ARGS.
const pinFakeGH = `#!/bin/sh
echo "$*" >> "ARGS"
[ "$1 $2" = "attestation verify" ] || { echo "fake gh: unexpected command: $*" >&2; exit 2; }
file=$3
shift 3
digest= ref=
while [ $# -gt 0 ]; do
	case $1 in
	--source-digest) digest=$2; shift 2 ;;
	--source-ref) ref=$2; shift 2 ;;
	*) shift ;;
	esac
done
sum=$(sha256sum "$file" | cut -d' ' -f1)
line=$(grep "^$sum " "ATTESTED" | head -n 1)
[ -n "$line" ] || { echo "Error: no attestations found for subject: sha256:$sum" >&2; exit 1; }
set -- $line
[ -z "$digest" ] || [ "$digest" = "$2" ] || { echo "Error: expected SourceRepositoryDigest to be $digest, got $2" >&2; exit 1; }
[ -z "$ref" ] || [ "$ref" = "$3" ] || { echo "Error: expected SourceRepositoryRef to be $ref, got $3" >&2; exit 1; }
echo "Verification succeeded!"
`

// pinRepo is a maintainer's clone of this module with a release made by
// scripts/release, and the action trees GitHub would check out for its SHAs.
type pinRepo struct {
	dir              string
	head, rel, stale string // the branch, the release commit, a commit made on the release commit
}

// pinCmd runs name in dir with a git identity and no user configuration.
func pinCmd(dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Maintainer", "GIT_AUTHOR_EMAIL=m@example.com", "GIT_COMMITTER_NAME=Maintainer", "GIT_COMMITTER_EMAIL=m@example.com")
	return cmd
}

// pinGit runs git in dir and returns its output.
func pinGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := pinCmd(dir, "git", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// newPinRepo copies the module's tracked files (as the work tree has them)
// into a new repository on VERSION "dev", releases v1.2.3 with
// scripts/release, and commits a fix on a branch made from the release tag:
// that commit still carries VERSION v1.2.3.
func newPinRepo(t *testing.T) pinRepo {
	t.Helper()
	r := pinRepo{dir: t.TempDir()}
	files, err := exec.Command("git", "-C", "..", "ls-files", "-z").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		if _, err := os.Stat(filepath.Join("..", f)); err == nil {
			copyFile(t, filepath.Join("..", f), filepath.Join(r.dir, f))
		}
	}
	if err := os.WriteFile(filepath.Join(r.dir, "VERSION"), []byte("dev\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pinGit(t, r.dir, "init", "-q", "-b", "main")
	pinGit(t, r.dir, "add", "-A")
	pinGit(t, r.dir, "commit", "-q", "-m", "development")
	r.head = pinGit(t, r.dir, "rev-parse", "HEAD")
	release, _ := filepath.Abs("../scripts/release")
	b, err := pinCmd(r.dir, release, "v1.2.3").CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/release v1.2.3: %v\n%s", err, b)
	}
	out := string(b)
	r.rel = pinGit(t, r.dir, "rev-parse", "v1.2.3^{commit}")
	if !strings.Contains(out, "git push origin v1.2.3") || !strings.Contains(out, r.rel) {
		t.Errorf("scripts/release printed %q, want the release commit and the push command", out)
	}
	pinGit(t, r.dir, "checkout", "-q", "-b", "hotfix", "v1.2.3")
	if err := os.WriteFile(filepath.Join(r.dir, "FIX"), []byte("a fix\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pinGit(t, r.dir, "add", "FIX")
	pinGit(t, r.dir, "commit", "-q", "-m", "a fix on the release")
	r.stale = pinGit(t, r.dir, "rev-parse", "HEAD")
	return r
}

// tree is what GitHub checks out for an action pinned by sha: the commit's
// files, no .git.
func (r pinRepo) tree(t *testing.T, sha string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", r.dir, sha, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("archiving %s: %v\n%s", sha, err, out)
	}
	return dir
}

// TestReleaseScript checks the release commit scripts/release makes: HEAD's
// tree with VERSION naming the release, a child of HEAD that the branch does
// not follow; and that it refuses what would make a wrong one.
func TestReleaseScript(t *testing.T) {
	t.Parallel()
	r := newPinRepo(t)
	if got := pinGit(t, r.dir, "show", "v1.2.3:VERSION"); got != "v1.2.3" {
		t.Errorf("the release commit's VERSION is %q, want v1.2.3", got)
	}
	if got := pinGit(t, r.dir, "rev-parse", r.rel+"^"); got != r.head {
		t.Errorf("the release commit's parent is %s, want the branch's HEAD %s", got, r.head)
	}
	if got := pinGit(t, r.dir, "diff", "--name-only", r.head, r.rel); got != "VERSION" {
		t.Errorf("the release commit changes %q, want only VERSION", got)
	}
	if got := pinGit(t, r.dir, "show", "main:VERSION"); got != "dev" {
		t.Errorf("the branch's VERSION is %q after the release, want dev", got)
	}
	release, _ := filepath.Abs("../scripts/release")
	for _, c := range []struct{ name, checkout, version, want string }{
		{"not a version", "main", "1.2.4\n::error::x", "usage: scripts/release vMAJOR.MINOR.PATCH"},
		{"the tag exists", "main", "v1.2.3", "tag v1.2.3 exists already"},
		{"from a branch of a release", "hotfix", "v1.2.4", "HEAD's VERSION is not 'dev'"},
	} {
		pinGit(t, r.dir, "checkout", "-q", c.checkout)
		out, err := pinCmd(r.dir, release, c.version).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Errorf("%s: %v, printed %q, want one line with %q", c.name, err, out, c.want)
		}
	}
}

// pinReleases serves release assets on loopback, as GitHub's
// /<repo>/releases/download/<tag>/<file>; the test swaps them between runs.
type pinReleases struct {
	mu       sync.Mutex
	assets   map[string][]byte // "v1.2.3/checksums.txt" -> content
	status   map[string]int    // an answer other than 200 or 404
	requests atomic.Int64
}

func (p *pinReleases) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	name, ok := strings.CutPrefix(r.URL.Path, "/org/ms-build-action/releases/download/")
	if code := p.status[name]; ok && code != 0 {
		http.Error(w, "unavailable", code)
	} else if b, found := p.assets[name]; ok && found {
		w.Write(b)
	} else {
		http.NotFound(w, r)
	}
}

// release makes v1.2.3's assets: bin as this runner's binary, its checksum,
// and commit.txt naming commit (none when commit is empty).
func (p *pinReleases) release(bin []byte, commit string, status map[string]int) {
	asset := "ms-build_linux_" + runtime.GOARCH
	sum := sha256.Sum256(bin)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.assets = map[string][]byte{
		"v1.2.3/" + asset:      bin,
		"v1.2.3/checksums.txt": []byte(hex.EncodeToString(sum[:]) + "  " + asset + "\n"),
	}
	if commit != "" {
		p.assets["v1.2.3/commit.txt"] = []byte(commit + "\n")
	}
	p.status = status
}

// replace swaps one asset, leaving the others (checksums.txt) as they are.
func (p *pinReleases) replace(name string, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.assets[name] = b
}

// buildRelease builds ms-build as release.yml does, reporting version and
// commit.
func buildRelease(t *testing.T, version, commit string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ms-build")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "-ldflags", "-s -w -X main.version="+version+" -X main.commit="+commit, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building a release binary: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pinRun is one run of scripts/action-binary: what it wrote to GITHUB_OUTPUT,
// what it printed, and what the binary it chose says of itself.
type pinRun struct {
	path, log, version string
	err                error
}

func (r pinRun) String() string { return "path " + r.path + ", version " + r.version + "\n" + r.log }

// pinHarness runs scripts/action-binary against releases served on loopback,
// with the fake gh on PATH.
type pinHarness struct {
	t                *testing.T
	releases         *pinReleases
	url              string
	ghDir            string
	attested, ghArgs string
}

func newPinHarness(t *testing.T) *pinHarness {
	h := &pinHarness{t: t, releases: &pinReleases{}, ghDir: t.TempDir()}
	srv := httptest.NewServer(h.releases)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.attested, h.ghArgs = filepath.Join(h.ghDir, "attested"), filepath.Join(h.ghDir, "args")
	gh := strings.NewReplacer(`"ARGS"`, `"`+h.ghArgs+`"`, `"ATTESTED"`, `"`+h.attested+`"`).Replace(pinFakeGH)
	if err := os.WriteFile(filepath.Join(h.ghDir, "gh"), []byte(gh), 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

// attest sets what the fake gh finds attested: "<sha256> <commit> <ref>" lines.
func (h *pinHarness) attest(lines ...string) {
	if err := os.WriteFile(h.attested, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// run runs the script as action.yml does for uses: org/ms-build-action@<sha>,
// GitHub having checked the action out in tree.
func (h *pinHarness) run(sha, tree string) pinRun {
	dir := h.t.TempDir()
	out := filepath.Join(dir, "output")
	cmd := exec.Command("../scripts/action-binary")
	cmd.Env = append(goEnv(h.t), "PATH="+h.ghDir+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+dir, "RUNNER_TEMP="+dir,
		"GITHUB_OUTPUT="+out, "GITHUB_ACTION_PATH="+tree, "MSB_ACTION_REF="+sha, "MSB_ACTION_REPOSITORY=org/ms-build-action",
		"MSB_RELEASE_URL="+h.url)
	log, err := cmd.CombinedOutput()
	b, _ := os.ReadFile(out)
	r := pinRun{path: strings.TrimPrefix(strings.TrimSpace(string(b)), "path="), log: string(log), err: err}
	if r.path != "" {
		v, _ := exec.Command(r.path, "version").Output()
		r.version = strings.TrimSpace(string(v))
	}
	return r
}

func pinDigest(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestActionBinaryPinnedSHA runs action.yml's first step for an action pinned
// by a full commit SHA, in the tree GitHub checks out for it (no .git), with
// the release served on loopback: the release commit's SHA gets the release's
// binary, verified against its checksum, its attestation (source commit and
// tag) and what it reports; a replaced or foreign binary is refused with one
// line and no source build; every other SHA (a commit after the release that
// still carries its VERSION, a development commit, a release that cannot
// confirm its commit) is built from source.
func TestActionBinaryPinnedSHA(t *testing.T) {
	t.Parallel()
	repo := newPinRepo(t)
	relTree, staleTree, devTree := repo.tree(t, repo.rel), repo.tree(t, repo.stale), repo.tree(t, repo.head)
	good := buildRelease(t, "v1.2.3", repo.rel)
	foreign := buildRelease(t, "v1.2.3", repo.head) // a real release binary, of another commit
	h := newPinHarness(t)

	// The release commit: the release's binary, not a build of its tree.
	h.releases.release(good, repo.rel, nil)
	h.attest(pinDigest(good)+" "+repo.rel+" refs/tags/v1.2.3", pinDigest(foreign)+" "+repo.head+" refs/tags/v1.2.3")
	r := h.run(repo.rel, relTree)
	if r.err != nil || r.version != "ms-build v1.2.3 commit "+repo.rel || strings.Contains(r.log, "from source") ||
		!strings.Contains(r.log, "Using the verified binary of release v1.2.3 (commit "+repo.rel+")") {
		t.Fatalf("the release commit's SHA: %v, want the release's binary\n%s", r.err, r)
	}
	want := "--signer-workflow org/ms-build-action/.github/workflows/release.yml --source-digest " + repo.rel + " --source-ref refs/tags/v1.2.3"
	if args, _ := os.ReadFile(h.ghArgs); !strings.Contains(string(args), want) {
		t.Errorf("gh was run as %q, want the release workflow, the commit and the tag (%s)", args, want)
	}
	testPinnedRefusals(t, h, repo, good, foreign, relTree, staleTree)
	testPinnedSource(t, repo, good, h.releases, h.run, staleTree, devTree)
}

// testPinnedRefusals checks that a release commit's SHA runs no binary that
// fails a check, and builds nothing instead.
func testPinnedRefusals(t *testing.T, h *pinHarness, repo pinRepo, good, foreign []byte, relTree, staleTree string) {
	refused := func(name string, r pinRun, want string) {
		t.Helper()
		lines := strings.Count(r.log, "::error")
		if r.err == nil || r.path != "" || !strings.Contains(r.log, want) || lines != 1 || strings.Contains(r.log, "from source") {
			t.Errorf("%s: %v, %d error lines, want one error with %q and no binary, no source build\n%s", name, r.err, lines, want, r)
		}
	}
	// A binary replaced on the release: it does not match checksums.txt.
	h.releases.release(good, repo.rel, nil)
	h.releases.replace("v1.2.3/ms-build_linux_"+runtime.GOARCH, append([]byte("tampered"), good...))
	refused("a tampered binary", h.run(repo.rel, relTree), "::error title=ms-build::the ms-build_linux_"+runtime.GOARCH+" of release v1.2.3 does not match its checksums.txt")
	// Replaced with its checksum, but no attestation has its digest.
	h.releases.release(append([]byte("replaced"), good...), repo.rel, nil)
	refused("a replaced binary and checksum", h.run(repo.rel, relTree), "no valid build provenance attestation from org/ms-build-action/.github/workflows/release.yml for commit "+repo.rel)
	// An attested binary of another commit: the attestation's source commit differs.
	h.releases.release(foreign, repo.rel, nil)
	refused("another commit's release binary", h.run(repo.rel, relTree), "expected SourceRepositoryDigest to be "+repo.rel)
	// Attested for this commit (as a broken release workflow could) but it reports another.
	h.attest(pinDigest(foreign) + " " + repo.rel + " refs/tags/v1.2.3")
	refused("a binary reporting another commit", h.run(repo.rel, relTree), `reports "ms-build v1.2.3 commit `+repo.head+`", not version v1.2.3 and commit `+repo.rel)
	// A commit.txt replaced to name a later commit: the attestation names the release's.
	h.releases.release(good, repo.stale, nil)
	h.attest(pinDigest(good) + " " + repo.rel + " refs/tags/v1.2.3")
	refused("a commit.txt naming a later commit", h.run(repo.stale, staleTree), "expected SourceRepositoryDigest to be "+repo.stale)
	// The release host failing is not "not a release": no source build.
	h.releases.release(good, repo.rel, map[string]int{"v1.2.3/commit.txt": http.StatusBadGateway})
	refused("the release host answering 502", h.run(repo.rel, relTree), "downloading the commit.txt of release v1.2.3 from "+h.url)
}

// testPinnedSource checks the SHAs that are no release's commit: each is
// built from its own tree.
func testPinnedSource(t *testing.T, repo pinRepo, good []byte, releases *pinReleases, run func(sha, tree string) pinRun, staleTree, devTree string) {
	t.Helper()
	// A build from source reports the ref it was built for (the SHA: the
	// action's checkout has no .git to add a revision from).
	built := func(name string, r pinRun, notice string) {
		t.Helper()
		if r.err != nil || !regexp.MustCompile(`^ms-build [0-9a-f]{40}$`).MatchString(r.version) || !strings.Contains(r.log, "Building ms-build from source") || !strings.Contains(r.log, notice) {
			t.Errorf("%s: %v, want a source build and %q\n%s", name, r.err, notice, r)
		}
	}
	releases.release(good, repo.rel, nil)
	built("a commit after the release, still carrying VERSION v1.2.3", run(repo.stale, staleTree),
		"::notice title=ms-build::commit "+repo.stale+" carries VERSION v1.2.3, but release v1.2.3 was built from commit "+repo.rel+": building this commit from source")
	releases.release(good, "::error::x%0A\"\n"+repo.stale, nil) // a replaced commit.txt cannot make a stale commit a release's
	built("a commit.txt that names no commit", run(repo.stale, staleTree), "release v1.2.3 was built from commit (unreadable): building this commit from source")
	releases.release(good, "", nil) // a release made before commit.txt
	built("a release with no commit.txt", run(repo.stale, staleTree), "release v1.2.3 has no commit.txt to confirm it is its commit: building from source")

	before := releases.requests.Load()
	built("a development commit", run(repo.head, devTree), "Building ms-build from source")
	if err := os.WriteFile(filepath.Join(devTree, "VERSION"), []byte("v1.2.3 ::error::%0A\"quoted\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(repo.head, devTree)
	built("a VERSION that names no release", r, "Building ms-build from source")
	if n := releases.requests.Load() - before; n != 0 || strings.Contains(r.log, "::error") || strings.Contains(r.log, "::notice") {
		t.Errorf("a SHA whose VERSION names no release asked the release host %d times, want none, and printed no annotation\n%s", n, r)
	}
}
