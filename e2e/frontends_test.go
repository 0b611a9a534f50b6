package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/org/ms-build-action/internal/testenv"
)

// tool finds a front end's real runner on PATH. Without it the test is
// skipped, unless the variable require is 1 (as .ci/run sets it), when it
// fails.
func tool(t *testing.T, name, require string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(require) == "1" {
			t.Fatalf("%s is not on PATH (%s=1)", name, require)
		}
		t.Skipf("%s is not on PATH: install it (see .ci/run) or set %s=1 to fail instead", name, require)
	}
	return p
}

// project makes a git checkout of the action with the fixture as app/,
// whose origin names org/ms-build-action, as a user's repository would be.
// The action's tests, fixtures and CI files are not part of it.
func project(t *testing.T, files map[string]string) string {
	t.Helper()
	all := fixture(t, "twostage", "app/")
	maps.Copy(all, files)
	return actionRepo(t, func(f string) bool {
		return strings.HasPrefix(f, ".github/") || strings.HasPrefix(f, "e2e/") || strings.HasPrefix(f, "bench/") || f == ".gitlab-ci.yml"
	}, all, "fixture")
}

// actionRepo makes a git repository of the action's work tree (the module
// root, one folder up: its tracked and untracked files, as a clone holds
// them once committed, less those skip drops) with files added, committed
// with message, whose origin is the project on gitlab.com.
func actionRepo(t *testing.T, skip func(path string) bool, files map[string]string, message string) string {
	t.Helper()
	dir := t.TempDir()
	ls := exec.Command("git", "ls-files", "--cached", "--others", "--exclude-standard")
	ls.Dir = ".."
	tracked, err := ls.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Split(strings.TrimSpace(string(tracked)), "\n") {
		if _, err := os.Lstat(filepath.Join("..", f)); err != nil || skip(f) {
			continue // deleted in the work tree, or left out
		}
		copyFile(t, filepath.Join("..", f), filepath.Join(dir, f))
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, dir, name, content)
	}
	gitIn(t, dir, "init", "-q", "-b", "main")
	gitIn(t, dir, "remote", "add", "origin", "https://gitlab.com/org/ms-build-action.git")
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", message)
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// goEnv keeps the machine's Go caches for the tools' own go build, so an
// offline run finds the modules.
func goEnv(t *testing.T) []string {
	t.Helper()
	var env []string
	for _, k := range []string{"GOMODCACHE", "GOCACHE", "GOPATH", "GOFLAGS", "GOTOOLCHAIN", "GOPROXY"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, k+"="+strings.TrimSpace(string(out)))
	}
	return env
}

const actWorkflow = `name: e2e
on: workflow_dispatch
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: msb
        uses: "org/ms-build-action@HOSTILE_REF"
        with:
          repository: acme/act
          context: app
          network: none
          tags: |
            act-1
            act-stable
          max-image-size: 50MB
          labels: |
            com.example.frontend=act
      - name: check the outputs
        env:
          REGISTRY: ${{ steps.msb.outputs.registry }}
          DIGEST: ${{ steps.msb.outputs.digest }}
          URI: ${{ steps.msb.outputs.image-uri }}
          TAGS: ${{ steps.msb.outputs.tags }}
          SIZE: ${{ steps.msb.outputs.image-size-bytes }}
          SKIPPED: ${{ steps.msb.outputs.skipped }}
          META: ${{ steps.msb.outputs.metadata }}
        run: |
          set -eu
          case "$DIGEST" in sha256:*) ;; *) echo "bad digest $DIGEST"; exit 1 ;; esac
          test "$URI" = "${URI%@*}@$DIGEST"
          test "$(echo "$TAGS" | wc -l)" = 2
          test "$SIZE" -gt 0
          test "$SKIPPED" = false
          echo "$META" | grep -q "\"digest\":\"$DIGEST\""
          echo "checked digest=$DIGEST"
          echo "checked registry=$REGISTRY"
`

const actBadInputWorkflow = `name: bad-input
on: workflow_dispatch
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./
        with:
          repository: acme/act
          context: app
          max-image-size: huge
`

// actMergeWorkflow merges two images acme/act does not hold: the images
// input reaches the run, which merges (and fails) instead of building.
const actMergeWorkflow = `name: merge
on: workflow_dispatch
jobs:
  merge:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./
        with:
          repository: acme/act
          tags: act-multi
          images: |
            sha256:1111111111111111111111111111111111111111111111111111111111111111
            sha256:2222222222222222222222222222222222222222222222222222222222222222
`

// actEvent is one line of act's --json log.
type actEvent struct {
	Msg        string `json:"msg"`
	JobResult  string `json:"jobResult"`
	StepResult string `json:"stepResult"`
	Stage      string `json:"stage"`
	Step       string `json:"step"`
}

func runAct(t *testing.T, act, dir, workflow string, e *testenv.ECR, extra ...string) (events []actEvent, code int) {
	t.Helper()
	return runActWith(t, act, dir, "workflow_dispatch", workflow, e.Env(), extra...)
}

// runActOn runs a workflow on an event (its payload, when there is one,
// given in extra with -e).
func runActOn(t *testing.T, act, dir, event, workflow string, e *testenv.ECR, extra ...string) (events []actEvent, code int) {
	t.Helper()
	return runActWith(t, act, dir, event, workflow, e.Env(), extra...)
}

// runActWith runs act offline on the host for event, with env given to the
// workflow (--env) and to act itself.
func runActWith(t *testing.T, act, dir, event, workflow string, env []string, extra ...string) (events []actEvent, code int) {
	t.Helper()
	args := []string{event, "-W", workflow, "-P", "ubuntu-latest=-self-hosted",
		"--pull=false", "--action-offline-mode", "--no-cache-server", "--json"}
	args = append(args, extra...)
	for _, kv := range env {
		args = append(args, "--env", kv)
	}
	cmd := exec.Command(act, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir(),
		"DOCKER_HOST=" + os.Getenv("DOCKER_HOST"),
	}, goEnv(t)...), env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running act: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var log strings.Builder
	for sc.Scan() {
		var ev actEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			events = append(events, ev)
			log.WriteString(ev.Msg + "\n")
		}
	}
	t.Logf("act exited %d:\n%s", code, log.String())
	return events, code
}

func jobResult(events []actEvent) string {
	for _, ev := range events {
		if ev.JobResult != "" {
			return ev.JobResult
		}
	}
	return ""
}

func logged(events []actEvent, s string) bool {
	for _, ev := range events {
		if strings.Contains(ev.Msg, s) {
			return true
		}
	}
	return false
}

// TestAct runs the action with real act on the host, as a workflow uses it,
// against the engine, the registry and the ECR endpoint: a later step
// asserts the outputs, and the job succeeds. The first workflow uses it as
// org/ms-build-action@<ref> (act maps that to this checkout) with a ref
// that holds quotes and command substitutions, as github.action_ref can: it
// reaches action.yml's steps and the binary's path, and must never run. A
// second workflow (uses: ./) gives a bad input: the job fails with the
// input's message.
func TestAct(t *testing.T) {
	act := tool(t, "act", "MSB_REQUIRE_ACT")
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	pwned := filepath.Join(t.TempDir(), "pwned")
	ref := `x"$(touch ` + pwned + `)"'$(touch ` + pwned + `)'`
	dir := project(t, map[string]string{
		".github/workflows/e2e.yml":       strings.ReplaceAll(actWorkflow, "HOSTILE_REF", strings.ReplaceAll(ref, `"`, `\"`)),
		".github/workflows/bad-input.yml": actBadInputWorkflow,
		".github/workflows/merge.yml":     actMergeWorkflow,
	})

	events, code := runAct(t, act, dir, ".github/workflows/e2e.yml", e,
		"--local-repository", "org/ms-build-action@"+ref+"="+dir)
	if _, err := os.Stat(pwned); err == nil {
		t.Errorf("the action ref %s ran as shell code: %s exists", ref, pwned)
	}
	if !logged(events, "LocalRepositoryCache matched") {
		t.Errorf("act did not take the action from the checkout at the ref %s: the ref was not exercised", ref)
	}
	if code != 0 || jobResult(events) != "success" {
		t.Fatalf("act: exit code %d, job result %q; want 0 and success", code, jobResult(events))
	}
	d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("acme/act"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("act-stable")}}})
	if err != nil {
		t.Fatalf("the registry has no act-stable: %v", err)
	}
	digest := aws.ToString(d.ImageDetails[0].ImageDigest)
	if !logged(events, "checked digest="+digest) {
		t.Errorf("the later step did not see the digest the registry has, %s", digest)
	}
	if !logged(events, "checked registry="+e.Registry) {
		t.Errorf("the later step did not see the registry output %s", e.Registry)
	}
	frontendLabel(t, e, "acme/act:act-stable", "act")

	events, code = runAct(t, act, dir, ".github/workflows/bad-input.yml", e)
	if code == 0 || jobResult(events) != "failure" {
		t.Errorf("bad input: exit code %d, job result %q; want non-zero and failure", code, jobResult(events))
	}
	if !logged(events, `input max-image-size: "huge" is not a size`) {
		t.Error("bad input: the job's log lacks the input's message")
	}

	events, code = runAct(t, act, dir, ".github/workflows/merge.yml", e)
	if code == 0 || jobResult(events) != "failure" {
		t.Errorf("merge: exit code %d, job result %q; want non-zero and failure", code, jobResult(events))
	}
	if !logged(events, "input images: sha256:1111111111111111111111111111111111111111111111111111111111111111 is not in "+e.Registry+"/acme/act") {
		t.Error("merge: the job's log lacks the merge's message naming the missing image")
	}
	if _, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("acme/act"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("act-multi")}}}); err == nil {
		t.Error("merge: the failed merge attached its tag")
	}
}

const gitlabPipeline = `stages: [build, verify]
include:
  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/ms-build@$CI_COMMIT_SHA
    inputs:
      repository: acme/gitlab
      context: app
      network: none
      tags: gl-1, gl-stable
      labels: com.example.frontend=gitlab
      docker-host: DOCKER_HOST_VALUE
      docker-cert-path: ""
      services: []
verify:
  stage: verify
  needs: [ms-build]
  script:
    - echo "digest=$MSB_DIGEST"
    - echo "tags=$MSB_TAGS"
    - echo "registry=$MSB_REGISTRY"
    - test "$MSB_IMAGE_URI" = "${MSB_IMAGE_URI%@*}@$MSB_DIGEST"
    - test "$MSB_SKIPPED" = false
    - test "$MSB_IMAGE_SIZE_BYTES" -gt 0
    - echo "verified"
`

// TestGitLabComponent runs a pipeline that includes the component with real
// gitlab-ci-local (shell executor, offline) and checks, in a later job, the
// outputs the component published through its dotenv report.
func TestGitLabComponent(t *testing.T) {
	glci := tool(t, "gitlab-ci-local", "MSB_REQUIRE_GITLAB_CI_LOCAL")
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := project(t, map[string]string{
		".gitlab-ci.yml": strings.ReplaceAll(gitlabPipeline, "DOCKER_HOST_VALUE", os.Getenv("DOCKER_HOST")),
	})
	out := runGitLab(t, glci, dir, e.Env())
	d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("acme/gitlab"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("gl-stable")}}})
	if err != nil {
		t.Fatalf("the registry has no gl-stable: %v", err)
	}
	digest := aws.ToString(d.ImageDetails[0].ImageDigest)
	for _, want := range []string{"digest=" + digest, "tags=" + e.Registry + "/acme/gitlab:gl-1," + e.Registry + "/acme/gitlab:gl-stable", "registry=" + e.Registry + "\n", "verified"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the verify job did not print %q", want)
		}
	}
	frontendLabel(t, e, "acme/gitlab:gl-stable", "gitlab")
	// The job log and the dotenv report hold no secret.
	places := map[string]string{"job log": string(out)}
	filepath.WalkDir(filepath.Join(dir, ".gitlab-ci-local"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".env") {
			b, _ := os.ReadFile(p)
			places[p] = string(b)
		}
		return nil
	})
	if len(places) < 2 {
		t.Error("found no dotenv report to scan")
	}
	for _, s := range append(e.Passwords(), e.SecretAccessKey) {
		for place, v := range places {
			if strings.Contains(v, s) {
				t.Errorf("a secret appears in %s", place)
			}
		}
	}
}

// runGitLab runs the pipeline in dir with gitlab-ci-local, with the
// variables given, and returns its output.
func runGitLab(t *testing.T, glci, dir string, vars []string) []byte {
	t.Helper()
	args := []string{"--force-shell-executor", "--no-color"}
	for _, kv := range vars {
		args = append(args, "--variable", kv)
	}
	cmd := exec.Command(glci, args...)
	cmd.Dir = dir
	// The job runs ms-build from PATH, as the component's image has it.
	cmd.Env = []string{"PATH=" + filepath.Dir(binary) + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	t.Logf("gitlab-ci-local:\n%s", out)
	if err != nil {
		t.Fatalf("gitlab-ci-local: %v", err)
	}
	return out
}

const gitlabBuildKitPipeline = `stages: [build, verify]
include:
  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/ms-build@$CI_COMMIT_SHA
    inputs:
      repository: acme/gitlab
      context: app
      tags: gl-bk
      builder: BUILDER_VALUE
      buildkit-ca: CA_VALUE
      buildkit-cert: $BUILDKIT_CERT
      buildkit-key: $BUILDKIT_KEY
      docker-host: unix:///nonexistent/docker.sock
      services: []
verify:
  stage: verify
  needs: [ms-build]
  script:
    - echo "digest=$MSB_DIGEST"
    - test "$MSB_IMAGE_SIZE_BYTES" -gt 0
    - echo "verified"
`

// TestGitLabComponentBuildKit runs the component's job on a BuildKit
// builder with no Docker engine, as a rootless buildkitd service would
// serve it: the mTLS certificate and key come from variables (as a
// File-type variable gives a path), which these inputs expand.
func TestGitLabComponentBuildKit(t *testing.T) {
	glci := tool(t, "gitlab-ci-local", "MSB_REQUIRE_GITLAB_CI_LOCAL")
	d := testenv.BuildKit(t)
	e := testenv.StartECR(t, testenv.GGCR)
	pipeline := strings.NewReplacer("BUILDER_VALUE", d.Addr, "CA_VALUE", d.CAFile).Replace(gitlabBuildKitPipeline)
	dir := project(t, map[string]string{".gitlab-ci.yml": pipeline})
	out := runGitLab(t, glci, dir, append(e.Env(), "BUILDKIT_CERT="+d.CertFile, "BUILDKIT_KEY="+d.KeyFile))
	dd, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("acme/gitlab"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("gl-bk")}}})
	if err != nil {
		t.Fatalf("the registry has no gl-bk: %v", err)
	}
	for _, want := range []string{"digest=" + aws.ToString(dd.ImageDetails[0].ImageDigest), "verified"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the verify job did not print %q", want)
		}
	}
	if strings.Contains(string(out), strings.TrimSpace(string(d.Key))[40:80]) {
		t.Error("the job log holds the client key")
	}
}

// TestActionBinary runs action.yml's first step the way GitHub does for a
// released ref: it downloads the release's binary, checks it against the
// release's checksums.txt and verifies its attestation, refusing one that
// fails either check without falling back to a source build; for a ref with
// no release it builds from source.
//
// gh is a fake on PATH: Debian's gh (2.23) has no `attestation` command, and
// a real verification needs GitHub's API and Sigstore, out of reach here. It
// answers as `gh attestation verify` does: exit 0 for a file whose digest was
// attested (listed in a file the test writes), exit 1 with its error
// otherwise; it records its arguments so the test checks the signer asked for.
func TestActionBinary(t *testing.T) {
	t.Parallel()
	bin, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	asset := "ms-build_linux_" + runtime.GOARCH
	checksums := hex.EncodeToString(sum[:]) + "  " + asset + "\n"
	// v6.6.6: a replaced asset with a matching checksums.txt, not attested.
	forged := append(slices.Clone(bin), "forged"...)
	forgedSum := sha256.Sum256(forged)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/org/ms-build-action/releases/download/v1.2.3/" + asset, "/org/ms-build-action/releases/download/v9.9.9/" + asset:
			w.Write(bin)
		case "/org/ms-build-action/releases/download/v1.2.3/checksums.txt":
			io.WriteString(w, checksums)
		case "/org/ms-build-action/releases/download/v9.9.9/checksums.txt":
			io.WriteString(w, strings.Repeat("0", 64)+"  "+asset+"\n")
		case "/org/ms-build-action/releases/download/v6.6.6/" + asset:
			w.Write(forged)
		case "/org/ms-build-action/releases/download/v6.6.6/checksums.txt":
			io.WriteString(w, hex.EncodeToString(forgedSum[:])+"  "+asset+"\n")
		case "/org/ms-build-action/releases/download/v5.5.5/" + asset:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	ghDir := t.TempDir()
	attested, ghArgs := filepath.Join(ghDir, "attested"), filepath.Join(ghDir, "args")
	if err := os.WriteFile(attested, []byte(hex.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fakeGH := `#!/bin/sh
echo "$*" >> "` + ghArgs + `"
[ "$1 $2" = "attestation verify" ] || { echo "fake gh: unexpected command: $*" >&2; exit 2; }
if grep -qx "$(sha256sum "$3" | cut -d' ' -f1)" "` + attested + `"; then
	echo "Verification succeeded!"
	exit 0
fi
echo "Error: failed to fetch attestations for subject: no attestations found" >&2
exit 1
`
	if err := os.WriteFile(filepath.Join(ghDir, "gh"), []byte(fakeGH), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(ref string) (string, string, time.Duration, error) {
		dir := t.TempDir()
		out := filepath.Join(dir, "output")
		cmd := exec.Command("../scripts/action-binary")
		cmd.Env = append(goEnv(t), "PATH="+ghDir+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+dir, "RUNNER_TEMP="+dir, "GITHUB_OUTPUT="+out,
			"MSB_ACTION_REF="+ref, "MSB_ACTION_REPOSITORY=org/ms-build-action", "MSB_RELEASE_URL="+srv.URL)
		start := time.Now()
		log, err := cmd.CombinedOutput()
		took := time.Since(start)
		b, _ := os.ReadFile(out)
		return strings.TrimSpace(string(b)), string(log), took, err
	}

	got, log, took, err := run("v1.2.3")
	if err != nil {
		t.Fatalf("released ref: %v\n%s", err, log)
	}
	path := strings.TrimPrefix(got, "path=")
	if v, err := exec.Command(path, "version").Output(); err != nil || !strings.HasPrefix(string(v), "ms-build ") {
		t.Errorf("the downloaded binary does not run: %v %q", err, v)
	}
	t.Logf("released ref: binary ready in %v (download from loopback, checksum, attestation)", took)
	args, _ := os.ReadFile(ghArgs)
	if want := "--repo org/ms-build-action --signer-workflow org/ms-build-action/.github/workflows/release.yml"; !strings.Contains(string(args), want) {
		t.Errorf("gh was run as %q, want the release workflow as signer (%s)", args, want)
	}

	_, log, _, err = run("v9.9.9")
	if err == nil || !strings.Contains(log, "does not match its checksums.txt") {
		t.Errorf("a binary that does not match its checksum was accepted: %v\n%s", err, log)
	}

	// Verification fails: no binary, and no source build instead.
	got, log, _, err = run("v6.6.6")
	if err == nil || !strings.Contains(log, "no valid build provenance attestation") || !strings.Contains(log, "no attestations found") ||
		strings.Contains(log, "from source") || got != "" {
		t.Errorf("a binary without a valid attestation: %v, output %q, want a failure with no fallback\n%s", err, got, log)
	}

	// The release host failing is not "no release": no fallback either.
	got, log, _, err = run("v5.5.5")
	if err == nil || !strings.Contains(log, "HTTP 503") || strings.Contains(log, "from source") || got != "" {
		t.Errorf("a release host answering 503: %v, output %q, want a failure with no fallback\n%s", err, got, log)
	}

	got, log, took, err = run("main")
	if err != nil || !strings.Contains(log, "Building ms-build from source") {
		t.Fatalf("branch ref: %v\n%s", err, log)
	}
	if v, err := exec.Command(strings.TrimPrefix(got, "path="), "version").Output(); err != nil || !strings.HasPrefix(string(v), "ms-build main") {
		t.Errorf("the binary built from source does not run or say its ref: %v %q", err, v)
	}
	t.Logf("branch ref: built from source in %v (with this machine's Go build cache)", took)

	// A version with no release (404): built from source.
	got, log, _, err = run("v7.7.7")
	if err != nil || !strings.Contains(log, "release v7.7.7 has no "+asset+": building from source") || !strings.HasPrefix(got, "path=") {
		t.Errorf("a version with no release: %v, output %q, want a source build\n%s", err, got, log)
	}
}
