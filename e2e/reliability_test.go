package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/ms-build-action/internal/testenv"
)

// badInput is one bad input and what must come of it.
type badInput struct {
	name   string
	inputs map[string]string // as the action passes them
	args   []string          // or as CLI flags
	files  map[string]string // files changed in the fixture
	engine bool              // needs the engine (checked after it answers)
	code   int               // 1, or 2 for a CLI usage error
	input  string            // the input the message names ("" for usage)
	want   string            // in the message
	line   int               // the Dockerfile line an annotation points at
}

// TestBadInput runs bad inputs through the real entry point, as the action
// passes them and as CLI flags. Each fails with exit code 1 (2 for a bad
// command line) and one line that names the input and says what is
// accepted; those that can be checked before the build are rejected before
// the engine is even asked (DOCKER_HOST points nowhere).
func TestBadInput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 257)
	cases := []badInput{
		{name: "missing repository", inputs: map[string]string{"repository": ""}, input: "repository", want: "required: give the ECR repository name"},
		{name: "uppercase repository", inputs: map[string]string{"repository": "Team/App"}, input: "repository", want: "lower-case letters"},
		{name: "repository as an address", inputs: map[string]string{"repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"}, input: "repository", want: "give only the repository name"},
		{name: "repository with a tag", inputs: map[string]string{"repository": "app:v1"}, input: "repository", want: "give only the repository name"},
		{name: "repository too long", inputs: map[string]string{"repository": long}, input: "repository", want: "2 to 256"},
		{name: "repository with a space", inputs: map[string]string{"repository": "team app"}, input: "repository", want: "not a valid ECR repository name"},
		{name: "missing region", inputs: map[string]string{"aws-region": ""}, input: "aws-region", want: "required: set aws-region"},
		{name: "region name", inputs: map[string]string{"aws-region": "Ireland"}, input: "aws-region", want: "region code such as us-east-1"},
		{name: "short account", inputs: map[string]string{"registry-id": "12345"}, input: "registry-id", want: "12 digits"},
		{name: "account with letters", inputs: map[string]string{"registry-id": "12345678901x"}, input: "registry-id", want: "12 digits"},
		{name: "missing context", inputs: map[string]string{"context": "nope"}, input: "context", want: "nope does not exist"},
		{name: "context is a file", inputs: map[string]string{"context": "message.txt"}, input: "context", want: "is not a directory"},
		{name: "context outside the workspace", inputs: map[string]string{"context": ".."}, input: "context", want: "outside the workspace"},
		{name: "context through a link outside", files: map[string]string{"@link": "/etc"}, inputs: map[string]string{"context": "link"}, input: "context", want: "outside the workspace"},
		{name: "missing Dockerfile", inputs: map[string]string{"file": "Dockerfile.prod"}, input: "file", want: "Dockerfile.prod does not exist"},
		{name: "Dockerfile is a directory", inputs: map[string]string{"file": "."}, input: "file", want: "is a directory"},
		{name: "Dockerfile outside the workspace", inputs: map[string]string{"file": "/etc/hostname"}, input: "file", want: "outside the workspace"},
		{name: "bad build stage name", inputs: map[string]string{"build-stage": "-x"}, input: "build-stage", want: "not a stage name"},
		{name: "unknown build stage", inputs: map[string]string{"build-stage": "compile"}, input: "build-stage", want: `stage "compile" not found`},
		{name: "unknown target", inputs: map[string]string{"target": "final"}, input: "target", want: `stage "final" not found`},
		{name: "build stage is the target", inputs: map[string]string{"build-stage": "build", "target": "build"}, input: "build-stage", want: "is the target itself"},
		{name: "bad build arg", inputs: map[string]string{"build-args": "1X=2"}, input: "build-args", want: "KEY=VALUE"},
		{name: "duplicate build arg", inputs: map[string]string{"build-args": "A=1\nA=2"}, input: "build-args", want: "given twice"},
		{name: "tag as a reference", inputs: map[string]string{"tags": "app:v1"}, input: "tags", want: "a reference, not a tag"},
		{name: "tag with a space", inputs: map[string]string{"tags": "v 1"}, input: "tags", want: "not a valid tag"},
		{name: "tag too long", inputs: map[string]string{"tags": strings.Repeat("t", 129)}, input: "tags", want: "up to 128"},
		{name: "tag reserved for skip records", inputs: map[string]string{"tags": "msb-skip-1"}, input: "tags", want: "reserves"},
		{name: "tag reserved for caches", inputs: map[string]string{"tags": "buildcache-x"}, input: "tags", want: "reserves"},
		{name: "push not a boolean", inputs: map[string]string{"push": "yes"}, input: "push", want: "use true or false"},
		{name: "dry-run not a boolean", inputs: map[string]string{"dry-run": "on"}, input: "dry-run", want: "use true or false"},
		{name: "cache not a boolean", inputs: map[string]string{"cache": "1"}, input: "cache", want: "use true or false"},
		{name: "create-repository not a boolean", inputs: map[string]string{"create-repository": "maybe"}, input: "create-repository", want: "use true or false"},
		{name: "cache files outside the context", inputs: map[string]string{"cache-key-files": "../go.sum"}, input: "cache-key-files", want: "leaves the build context"},
		{name: "cache files absolute", inputs: map[string]string{"cache-key-files": "/etc/passwd"}, input: "cache-key-files", want: "leaves the build context"},
		{name: "cache files matching nothing", inputs: map[string]string{"cache-key-files": "**/*.csproj"}, engine: true, input: "cache-key-files", want: "**/*.csproj"},
		{name: "size not a number", inputs: map[string]string{"max-image-size": "big"}, input: "max-image-size", want: "e.g. 250MB"},
		{name: "size with an unknown unit", inputs: map[string]string{"max-image-size": "2XB"}, input: "max-image-size", want: "KiB, MiB, GiB"},
		{name: "size zero", inputs: map[string]string{"max-image-size": "0"}, input: "max-image-size", want: "more than 0"},
		{name: "growth not a size", inputs: map[string]string{"max-image-growth": "5%\n::error::forged"}, input: "max-image-growth", want: "or a percentage such as 5%"},
		{name: "unknown network", inputs: map[string]string{"network": "bridge"}, input: "network", want: "default, host or none"},
		{name: "retention not a number", inputs: map[string]string{"cache-retention-days": "a week"}, input: "cache-retention-days", want: "whole number"},
		{name: "retention too long", inputs: map[string]string{"cache-retention-days": "5000"}, input: "cache-retention-days", want: "1 to 3650"},
		{name: "label without =", inputs: map[string]string{"labels": "a=1\nteam payments"}, input: "labels", want: `line 2 ("team payments") has no '='`},
		{name: "label with an empty key", inputs: map[string]string{"labels": "=x"}, input: "labels", want: "empty key"},
		{name: "annotation given twice", inputs: map[string]string{"annotations": "k=1\nk=2"}, input: "annotations", want: "k is given twice (lines 1 and 2)"},
		{name: "annotation with an escape", inputs: map[string]string{"annotations": "k=\x1b]0;pwned\x07"}, input: "annotations", want: "control character"},
		{name: "labels too long", inputs: map[string]string{"labels": "k=" + strings.Repeat("v", 70_000)}, input: "labels", want: "over the limit of 65536"},
		{name: "Dockerfile syntax", files: map[string]string{"Dockerfile": "FROM msb-test/sdk:1 AS build\nRUN true\nCOPPY . .\n"}, input: "", want: "unknown instruction: COPPY", line: 3},
		{name: "Dockerfile unknown stage", files: map[string]string{"Dockerfile": "FROM msb-test/sdk:1 AS build\nRUN true\nFROM msb-test/busybox:1\nCOPY --from=biuld /x /x\n"}, input: "", want: "unknown stage \"biuld\" (did you mean build?)", line: 4},
		{name: "Dockerfile missing file for COPY", files: map[string]string{"Dockerfile": "FROM msb-test/sdk:1 AS build\nWORKDIR /src\nCOPY missing.txt ./\nFROM msb-test/busybox:1\nCOPY --from=build /src /src\n"}, inputs: map[string]string{"push": "false"}, engine: true, input: "", want: "missing.txt", line: 3},
		{name: "empty Dockerfile", files: map[string]string{"Dockerfile": "# nothing\n"}, input: "", want: "Dockerfile"},
		// The command line.
		{name: "unknown flag", args: []string{"--no-such-flag"}, code: 2, want: "unknown flag --no-such-flag (ms-build --help lists the flags)"},
		{name: "stray argument", args: []string{"build"}, code: 2, want: `unknown command "build"`},
		{name: "flag without value", args: []string{"--repository"}, code: 2, want: "--repository needs a value: --repository=VALUE"},
		{name: "flag not a boolean", args: []string{"--push=maybe"}, input: "push", want: "use true or false"},
		{name: "flag bad tags", args: []string{"--tags", "a b"}, input: "tags", want: "not a valid tag"},
		{name: "flag bad label", args: []string{"--labels", "a=1", "--labels", "a=2"}, input: "labels", want: "a is given twice"},
		{name: "flag bad size", args: []string{"--max-image-size", "-5"}, input: "max-image-size", want: "is not a size"},
		{name: "flag bad growth", args: []string{"--max-image-growth", "0%"}, input: "max-image-growth", want: "is not a size or a percentage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.engine {
				testenv.BaseImages(t, testenv.Docker(t))
			}
			if tc.code == 0 {
				tc.code = 1
			}
			dir := workspace(t, "twostage")
			for name, content := range tc.files {
				if strings.HasPrefix(name, "@") {
					if err := os.Symlink(content, filepath.Join(dir, name[1:])); err != nil {
						t.Fatal(err)
					}
					continue
				}
				write(t, dir, name, content)
			}
			dockerHost := "unix:///nonexistent/docker.sock" // nothing may be asked of an engine
			if tc.engine {
				dockerHost = os.Getenv("DOCKER_HOST")
			}
			var r result
			if tc.args != nil {
				r = runBinary(t, dir, []string{"DOCKER_HOST=" + dockerHost, "AWS_REGION=eu-west-1", "INPUT_REPOSITORY=acme/app"}, tc.args...)
			} else {
				inputs := map[string]string{"repository": "acme/app", "aws-region": "eu-west-1", "network": "none"}
				for k, v := range tc.inputs {
					inputs[k] = v
				}
				r = github(t, dir, nil, inputs, "DOCKER_HOST="+dockerHost)
			}
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d", r.code, tc.code)
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(r.stdout+r.stderr), "\n") {
				if strings.HasPrefix(l, "::error") || strings.HasPrefix(l, "error") || strings.HasPrefix(l, "ms-build:") {
					lines = append(lines, l)
				}
			}
			if len(lines) == 0 {
				t.Fatalf("no error line in:\n%s%s", r.stdout, r.stderr)
			}
			last := lines[len(lines)-1]
			if tc.input != "" && !strings.Contains(last, "input "+tc.input+": ") {
				t.Errorf("error %q does not name input %s", last, tc.input)
			}
			if !strings.Contains(strings.Join(lines, "\n"), tc.want) {
				t.Errorf("errors %q lack %q", lines, tc.want)
			}
			if tc.line > 0 {
				want := fmt.Sprintf("::error file=Dockerfile,line=%d,title=Dockerfile::", tc.line)
				if !strings.Contains(r.stdout, want) {
					t.Errorf("no annotation at the Dockerfile's line: want %q in\n%s", want, r.stdout)
				}
			}
			if !tc.engine && strings.Contains(r.logs(), "does not answer") {
				t.Error("the engine was asked before the input was checked")
			}
		})
	}
	if len(cases) < 40 {
		t.Errorf("%d cases, want at least 40", len(cases))
	}
}

// githubEnv is github's environment for a run started by hand.
func githubEnv(t *testing.T, dir string, e *testenv.ECR, inputs map[string]string) (env []string, outputFile string) {
	t.Helper()
	meta := t.TempDir()
	// The default branch is known from the event, as on GitHub: a run on it
	// is trusted to write caches.
	event := filepath.Join(meta, "event.json")
	if err := os.WriteFile(event, []byte(`{"repository":{"default_branch":"main"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env = []string{
		"GITHUB_ACTIONS=true", "GITHUB_OUTPUT=" + filepath.Join(meta, "output"), "GITHUB_STEP_SUMMARY=" + filepath.Join(meta, "summary"), "GITHUB_EVENT_PATH=" + event,
		"GITHUB_SHA=" + sha, "GITHUB_REF=refs/heads/main", "GITHUB_REF_TYPE=branch", "GITHUB_WORKSPACE=" + dir,
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "DOCKER_HOST=" + os.Getenv("DOCKER_HOST"),
	}
	env = append(env, e.Env()...)
	for k, v := range inputs {
		env = append(env, inputVar(k)+"="+v)
	}
	return env, filepath.Join(meta, "output")
}

// waitFor reads r's lines until one matches, then keeps draining it.
func waitFor(t *testing.T, r io.Reader, out *syncBuffer, pattern string) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			out.Write(append(sc.Bytes(), '\n'))
			if re.Match(sc.Bytes()) {
				once.Do(func() { close(found) })
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(3 * time.Minute):
		t.Fatalf("no line matching %q:\n%s", pattern, out.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLongBuild starts a run whose build stage has a long step (marker is
// its command, e.g. "sleep 611") and returns once the step runs.
func startLongBuild(t *testing.T, e *testenv.ECR, marker string, env ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	dir := workspace(t, "twostage")
	write(t, dir, "Dockerfile", "FROM msb-test/sdk:1 AS build\nWORKDIR /src\nCOPY . .\nRUN echo long step && "+marker+"\nFROM msb-test/busybox:1\nCOPY --from=build /src /src\n")
	base, _ := githubEnv(t, dir, e, map[string]string{"repository": "acme/app", "network": "none", "tags": "v1"})
	cmd := exec.Command(binary)
	cmd.Dir, cmd.Env = dir, append(base, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, stdout, out, regexp.QuoteMeta("Running [build 4/4] RUN echo long step"))
	return cmd, out
}

// running reports whether a process whose command line contains s runs.
func running(s string) bool {
	out, _ := exec.Command("pgrep", "-f", s).Output()
	return len(bytes.TrimSpace(out)) > 0
}

// TestCancel sends the signals CI systems send to a run in the middle of a
// build step: the run stops the build in the engine, exits within 5 s with a
// non-zero code and a line saying it was cancelled, and attaches no tag.
func TestCancel(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			e := testenv.StartECR(t, testenv.GGCR)
			marker := fmt.Sprintf("sleep %d", 600+int(sig))
			cmd, out := startLongBuild(t, e, marker)
			// The step's process runs in the engine.
			deadline := time.Now().Add(30 * time.Second)
			for !running(marker) && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if !running(marker) {
				t.Fatalf("the build step never started:\n%s", out.String())
			}
			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			took := time.Since(sent)
			t.Logf("%v: exited after %v: %v\n%s", sig, took, err, out.String())
			if took > 5*time.Second {
				t.Errorf("exit took %v after %v, want at most 5s", took, sig)
			}
			if cmd.ProcessState.ExitCode() == 0 {
				t.Error("exit code 0 after a cancel, want non-zero")
			}
			if !strings.Contains(out.String(), "::error::cancelled: ") {
				t.Error("no line saying the run was cancelled")
			}
			// Nothing keeps running in the engine.
			deadline = time.Now().Add(5 * time.Second)
			for running(marker) && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if running(marker) {
				t.Error("the build step still runs in the engine after the run was cancelled")
			}
			for _, id := range listImages(t, e, "acme/app") {
				t.Errorf("the registry holds %s after a cancelled run", aws.ToString(id.ImageTag))
			}
		})
	}
}

// TestConcurrentRuns: four runs at once on one repository, with the same
// cache key and different tags, all succeed; every tag resolves to a
// complete image, the cache tag is complete, and a later run hits it.
func TestConcurrentRuns(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	const runs = 4
	results := make([]result, runs)
	var wg sync.WaitGroup
	for i := range runs {
		dir := workspace(t, "twostage")
		write(t, dir, "message.txt", fmt.Sprintf("run %d\n", i))
		wg.Go(func() {
			results[i] = github(t, dir, e, map[string]string{"repository": "acme/app", "network": "none", "tags": fmt.Sprintf("run-%d", i)})
		})
	}
	wg.Wait()
	auth := login(t, e)
	opts := []remote.Option{remote.WithAuth(auth), remote.WithContext(t.Context())}
	key := results[0].outputs["cache-key"]
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("run %d: exit code %d", i, r.code)
		}
		if r.outputs["cache-key"] != key {
			t.Errorf("run %d: cache-key %s, want %s", i, r.outputs["cache-key"], key)
		}
		// The tag names a complete image: every blob can be read.
		img, err := remote.Image(ref(t, fmt.Sprintf("%s/acme/app:run-%d", e.Registry, i)), opts...)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if files := imageFiles(t, img); len(files) == 0 {
			t.Errorf("run %d: the image has no files", i)
		}
		if d, _ := img.Digest(); d.String() != r.outputs["digest"] {
			t.Errorf("run %d: tag points at %s, the run reported %s", i, d, r.outputs["digest"])
		}
	}
	cacheImg, err := remote.Image(ref(t, e.Registry+"/acme/app:buildcache-"+key[:16]), opts...)
	if err != nil {
		t.Fatalf("the cache tag: %v", err)
	}
	imageFiles(t, cacheImg) // reads every layer: fails the test on a missing blob
	dir := workspace(t, "twostage")
	write(t, dir, "message.txt", "after the rush\n")
	testenv.FreshRunner(t, docker)
	later := github(t, dir, e, map[string]string{"repository": "acme/app", "network": "none", "tags": "later"})
	if later.code != 0 || later.outputs["cache-hit"] != "true" {
		t.Errorf("a later run: exit %d, cache-hit %s; want 0 and true", later.code, later.outputs["cache-hit"])
	}
}

// TestTransientFaults: three failures in a row of each kind (registry 503s
// on blob uploads, connection resets on manifest uploads, ECR throttling and
// server errors on every operation) are survived, with the right digest.
func TestTransientFaults(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	var reg, api testenv.Faults
	e := testenv.StartECR(t, testenv.GGCR, testenv.Options{WrapRegistry: reg.Wrap, WrapEndpoint: api.Wrap})
	uploads := regexp.MustCompile(`/blobs/uploads/`)
	manifests := regexp.MustCompile(`/manifests/`)
	reg.Add(testenv.Fault{Method: "PATCH", Path: uploads, Status: 503, Times: 3})
	reg.Add(testenv.Fault{Method: "PUT", Path: uploads, Status: 500, Times: 3})
	reg.Add(testenv.Fault{Method: "PUT", Path: manifests, Reset: true, Times: 3})
	for _, op := range []string{"GetAuthorizationToken", "DescribeRepositories", "CreateRepository", "DescribeImages", "BatchGetImage", "PutImage", "BatchDeleteImage", "PutLifecyclePolicy"} {
		api.Add(testenv.Fault{Operation: op, Status: 400, ECRError: "ThrottlingException", Times: 2})
		api.Add(testenv.Fault{Operation: op, Status: 500, ECRError: "ServerException", Times: 1})
	}
	start := time.Now()
	r := github(t, workspace(t, "twostage"), e, map[string]string{"repository": "acme/app", "network": "none", "tags": "v1"})
	t.Logf("faults injected: registry %d, ECR API %d; the run took %v", reg.Injected(), api.Injected(), time.Since(start))
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0: transient faults must be survived", r.code)
	}
	d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("acme/app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	if err != nil || aws.ToString(d.ImageDetails[0].ImageDigest) != r.outputs["digest"] {
		t.Errorf("v1 does not point at the reported digest %s: %v", r.outputs["digest"], err)
	}
	if reg.Injected() < 9 || api.Injected() < 3*6 {
		t.Errorf("only %d registry and %d API faults were injected: the test did not test", reg.Injected(), api.Injected())
	}
}

// TestPersistentFaults: a registry or an ECR operation that keeps failing
// ends the run within 2 minutes, naming what failed and what to check, with
// no requested tag attached.
func TestPersistentFaults(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	for _, tc := range []struct {
		name  string
		fault func(reg, api *testenv.Faults)
		want  string
	}{
		{"registry", func(reg, _ *testenv.Faults) {
			reg.Add(testenv.Fault{Method: "PUT", Path: regexp.MustCompile(`/manifests/`), Status: 503})
		}, "keeps failing; check its status and the network"},
		{"ECR API", func(_, api *testenv.Faults) {
			api.Add(testenv.Fault{Operation: "PutImage", Status: 500, ECRError: "ServerException"})
		}, "ECR kept failing on PutImage after 5 attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reg, api testenv.Faults
			e := testenv.StartECR(t, testenv.GGCR, testenv.Options{WrapRegistry: reg.Wrap, WrapEndpoint: api.Wrap})
			tc.fault(&reg, &api)
			start := time.Now()
			r := github(t, workspace(t, "twostage"), e, map[string]string{"repository": "acme/app", "network": "none", "tags": "v1"})
			took := time.Since(start)
			t.Logf("failed after %v with %d registry and %d API faults", took, reg.Injected(), api.Injected())
			if r.code != 1 {
				t.Errorf("exit code %d, want 1", r.code)
			}
			if took > 2*time.Minute {
				t.Errorf("the run took %v to give up, want at most 2 minutes", took)
			}
			if !strings.Contains(r.stdout, tc.want) {
				t.Errorf("the error does not name %q", tc.want)
			}
			for _, id := range listImages(t, e, "acme/app") {
				if aws.ToString(id.ImageTag) == "v1" {
					t.Error("v1 was attached although the run failed")
				}
			}
		})
	}
}

// TestTokenExpiry: a run that outlives its registry token logs in again
// before pushing.
func TestTokenExpiry(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR, testenv.Options{TokenTTL: 2 * time.Second})
	dir := workspace(t, "twostage")
	// A build step that outlives the token (never cached: the nonce).
	write(t, dir, "Dockerfile", "FROM msb-test/sdk:1 AS build\nWORKDIR /src\nCOPY . .\nRUN echo "+rand.Text()+" && sleep 3 && compile /out\nFROM msb-test/busybox:1\nCOPY --from=build /out/ /app/\n")
	r := github(t, dir, e, map[string]string{"repository": "acme/app", "network": "none", "tags": "v1"})
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0", r.code)
	}
	if n := len(e.Passwords()); n < 2 {
		t.Errorf("%d logins, want a second one before the push", n)
	}
	if !strings.Contains(r.stdout, "logging in again") {
		t.Error("the run did not say it logged in again")
	}
}

// TestEngineGoesAway: an engine that goes away mid-build fails the run
// clearly, with nothing published.
func TestEngineGoesAway(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	proxy := testenv.NewEngineProxy(t)
	cmd, out := startLongBuild(t, e, "sleep 677", "DOCKER_HOST="+proxy.Host)
	proxy.Cut()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the run did not end after the engine went away:\n%s", out.String())
	}
	t.Logf("%s", out.String())
	if cmd.ProcessState.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", cmd.ProcessState.ExitCode())
	}
	if !strings.Contains(out.String(), "went away during the build: nothing was pushed") {
		t.Error("the error does not say the engine went away")
	}
	for _, id := range listImages(t, e, "acme/app") {
		t.Errorf("the registry holds %s", aws.ToString(id.ImageTag))
	}
	// The step keeps running in the engine, which the run cannot reach any
	// more: stop it, for the tests that follow.
	exec.Command("pkill", "-f", "sleep 677").Run()
}

// TestSecretsNeverLeak runs with temporary AWS credentials (a session
// token, as OIDC gives) and scans everything the run leaves for the AWS
// secret key, the session token and the registry password: its output, its
// outputs and summary, its files, and the image's labels and history.
func TestSecretsNeverLeak(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR, testenv.Options{SessionToken: true})
	dir := workspace(t, "twostage")
	r := github(t, dir, e, map[string]string{"repository": "acme/app", "network": "none", "tags": "v1", "build-args": "AWS_REGION"})
	if r.code != 0 {
		t.Fatalf("exit code %d", r.code)
	}
	secrets := append(e.Passwords(), e.SecretAccessKey, e.SessionToken)
	assertNoSecret(t, r, secrets...)
	ii, err := docker.ImageInspect(context.Background(), r.outputs["image-id"])
	if err != nil {
		t.Fatal(err)
	}
	hist, err := docker.ImageHistory(context.Background(), r.outputs["image-id"])
	if err != nil {
		t.Fatal(err)
	}
	var image strings.Builder
	fmt.Fprintf(&image, "%v %v %v", ii.Config.Labels, ii.Config.Env, ii.Config.Cmd)
	for _, h := range hist.Items {
		image.WriteString(h.CreatedBy + h.Comment)
	}
	for _, s := range secrets {
		if strings.Contains(image.String(), s) {
			t.Error("a secret is in the image's config or history")
		}
	}
	// The workspace holds nothing new but what the run was given.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("a secret is in %s", p)
				}
			}
		}
		return nil
	})
}

// TestPartialTags: when one of several tags cannot be attached, the run
// fails and its outputs list exactly the tags attached before it.
func TestPartialTags(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	var api testenv.Faults
	e := testenv.StartECR(t, testenv.GGCR, testenv.Options{WrapEndpoint: api.Wrap})
	api.Add(testenv.Fault{Operation: "PutImage", Body: regexp.MustCompile(`"imageTag":"two"`), Status: 400, ECRError: "InvalidParameterException"})
	r := github(t, workspace(t, "twostage"), e, map[string]string{"repository": "acme/app", "network": "none", "tags": "one,two,three"})
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	if !strings.Contains(r.stdout, "attaching tag two") || !strings.Contains(r.stdout, "attached before it: one") {
		t.Error("the error does not say which tag failed and which were attached")
	}
	if got, want := r.outputs["tags"], e.Registry+"/acme/app:one"; got != want {
		t.Errorf("tags output = %q, want exactly the tag attached, %q", got, want)
	}
	var tags []string
	for _, id := range listImages(t, e, "acme/app") {
		if tag := aws.ToString(id.ImageTag); !strings.HasPrefix(tag, "buildcache-") {
			tags = append(tags, tag)
		}
	}
	if len(tags) != 1 || tags[0] != "one" {
		t.Errorf("the registry's tags are %v, want [one] (no staging tag, no record of a failed run)", tags)
	}
}

// TestCacheUnfriendlyDockerfile: a single-stage Dockerfile still builds,
// with a notice; a build stage that copies the whole context before its
// restore step gets a notice on that line with the cache-friendly form; and
// build args reach the build.
func TestCacheUnfriendlyDockerfile(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	t.Run("single stage", func(t *testing.T) {
		dir := workspace(t, "twostage")
		write(t, dir, "Dockerfile", "FROM msb-test/busybox:1\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\nCMD [\"cat\", \"/greeting\"]\n")
		r := github(t, dir, nil, map[string]string{"push": "false", "network": "none", "build-args": "GREETING=hello from a build arg"})
		if r.code != 0 {
			t.Fatalf("exit code %d, want 0", r.code)
		}
		if !strings.Contains(r.stdout, "::notice file=Dockerfile,line=1,title=single stage::") {
			t.Error("no notice that the Dockerfile has a single stage")
		}
		if out, _ := testenv.Run(t, docker, r.outputs["image-id"]); out != "hello from a build arg\n" {
			t.Errorf("the image printed %q, want the build arg's value", out)
		}
	})
	t.Run("copy before restore", func(t *testing.T) {
		dir := workspace(t, "twostage")
		write(t, dir, "Dockerfile", "FROM msb-test/sdk:1 AS build\nWORKDIR /src\nCOPY . .\nRUN restore requirements.txt\nRUN compile /out\nFROM msb-test/busybox:1\nCOPY --from=build /out/ /app/\n")
		r := github(t, dir, nil, map[string]string{"push": "false", "network": "none"})
		if r.code != 0 {
			t.Fatalf("exit code %d, want 0", r.code)
		}
		if !strings.Contains(r.stdout, "::notice file=Dockerfile,line=3,title=cache-friendly Dockerfile::") || !strings.Contains(r.stdout, "pip install --no-cache-dir -r requirements.txt") {
			t.Error("no notice on the COPY line with the form for Python (the ecosystem of requirements.txt)")
		}
	})
}
