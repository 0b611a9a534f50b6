package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/org/ms-build-action/internal/testenv"
)

// binary is ms-build, built once for the tests (with -race when they are).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ms-build-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ms-build")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	// The module root: these tests run the binary a user runs.
	if out, err := exec.Command("go", append(args, "..")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building ms-build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary left behind.
type result struct {
	code           int
	stdout, stderr string
	outputs        map[string]string // GITHUB_OUTPUT
	summary        string            // GITHUB_STEP_SUMMARY
	home           string            // the run's HOME, to check nothing is written there
}

// logs is everything the run printed, for searching.
func (r result) logs() string { return r.stdout + r.stderr }

// workspace copies a fixture from testdata into a fresh checkout directory.
func workspace(t *testing.T, fixture string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata", fixture))); err != nil {
		t.Fatal(err)
	}
	return dst
}

const sha = "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4"

// github runs the binary as a GitHub Actions step in dir, with the inputs as
// the action passes them (INPUT_<NAME>) and the AWS SDK pointed at e.
func github(t *testing.T, dir string, e *testenv.ECR, inputs map[string]string, extra ...string) result {
	t.Helper()
	meta := t.TempDir()
	event := filepath.Join(meta, "event.json")
	if err := os.WriteFile(event, []byte(`{"repository":{"default_branch":"main"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"GITHUB_ACTIONS=true",
		"GITHUB_OUTPUT=" + filepath.Join(meta, "output"),
		"GITHUB_STEP_SUMMARY=" + filepath.Join(meta, "summary"),
		"GITHUB_EVENT_PATH=" + event,
		"GITHUB_SHA=" + sha,
		"GITHUB_REF=refs/heads/main",
		"GITHUB_REF_TYPE=branch",
		"GITHUB_SERVER_URL=https://github.com",
		"GITHUB_REPOSITORY=acme/app",
		"GITHUB_RUN_ID=42",
		"GITHUB_WORKSPACE=" + dir,
	}
	if e != nil {
		env = append(env, e.Env()...)
	}
	for k, v := range inputs {
		env = append(env, inputVar(k)+"="+v)
	}
	r := runBinary(t, dir, append(env, extra...))
	r.outputs = parseOutputs(t, filepath.Join(meta, "output"))
	if b, err := os.ReadFile(filepath.Join(meta, "summary")); err == nil {
		r.summary = string(b)
	}
	return r
}

// runBinary runs ms-build in dir with only the given environment (plus
// PATH, DOCKER_HOST and a fresh HOME).
func runBinary(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DOCKER_HOST=" + os.Getenv("DOCKER_HOST")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running ms-build: %v", err)
	}
	t.Logf("ms-build exited %d\n--- stdout\n%s--- stderr\n%s", code, stdout.String(), stderr.String())
	return result{code: code, stdout: stdout.String(), stderr: stderr.String(), home: home}
}

// parseOutputs reads a GITHUB_OUTPUT file (name<<delimiter lines).
func parseOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

// login gets a registry password of the test's own.
func login(t *testing.T, e *testenv.ECR) authn.Authenticator {
	t.Helper()
	out, err := e.Client.GetAuthorizationToken(t.Context(), &awsecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if raw, err = base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken)); err != nil {
		t.Fatal(err)
	}
	user, pw, _ := strings.Cut(string(raw), ":")
	return &authn.Basic{Username: user, Password: pw}
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// imageFiles lists the files in every layer of a pushed image.
func imageFiles(t *testing.T, img v1.Image) []string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, h.Name)
		}
		rc.Close()
	}
	return files
}

// assertNoSecret fails when any secret appears in anything the run wrote:
// stdout (but for the add-mask command the runner consumes), stderr, the
// outputs, the summary or a file under its HOME.
func assertNoSecret(t *testing.T, r result, secrets ...string) {
	t.Helper()
	var stdout []string
	for _, l := range strings.Split(r.stdout, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			stdout = append(stdout, l)
		}
	}
	places := map[string]string{
		"stdout":  strings.Join(stdout, "\n"),
		"stderr":  r.stderr,
		"summary": r.summary,
	}
	for k, v := range r.outputs {
		places["output "+k] = v
	}
	filepath.WalkDir(r.home, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			places["file "+p] = string(b)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(r.home, ".docker", "config.json")); err == nil {
		t.Errorf("the run wrote %s/.docker/config.json", r.home)
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret cannot be searched for")
		}
		for place, v := range places {
			if strings.Contains(v, s) {
				t.Errorf("a secret appears in %s", place)
			}
		}
	}
}

// TestPushTwoStage builds the two-stage fixture, pushes it through the real
// AWS SDK and the real engine to each real registry, and checks what the
// registry holds against the outputs.
func TestPushTwoStage(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	for _, backend := range []testenv.Backend{testenv.GGCR, testenv.DistributionV3} {
		t.Run(string(backend), func(t *testing.T) {
			e := testenv.StartECR(t, backend)
			dir := workspace(t, "twostage")
			r := github(t, dir, e, map[string]string{"repository": "acme/app", "network": "none"})
			if r.code != 0 {
				t.Fatalf("exit code %d, want 0", r.code)
			}
			issued := e.Passwords()
			if len(issued) == 0 {
				t.Fatal("the run got no registry password from the endpoint")
			}
			assertNoSecret(t, r, append(issued, e.SecretAccessKey)...)
			if !strings.Contains(r.stdout, "::add-mask::"+issued[0]) {
				t.Error("the registry password was not masked for the runner")
			}

			o := r.outputs
			repo := e.Registry + "/acme/app"
			digest := o["digest"]
			if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
				t.Fatalf("digest output = %q", digest)
			}
			if got, want := o["image-uri"], repo+"@"+digest; got != want {
				t.Errorf("image-uri = %q, want %q", got, want)
			}
			if got, want := o["registry"], e.Registry; got != want {
				t.Errorf("registry = %q, want the proxyEndpoint's host %q", got, want)
			}
			wantTags := []string{repo + ":" + sha[:7], repo + ":latest"}
			if diff := cmp.Diff(wantTags, strings.Split(o["tags"], "\n")); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}

			auth := login(t, e)
			opts := []remote.Option{remote.WithAuth(auth), remote.WithContext(t.Context())}
			for _, tag := range wantTags {
				desc, err := remote.Head(ref(t, tag), opts...)
				if err != nil {
					t.Fatalf("HEAD %s: %v", tag, err)
				}
				if got := desc.Digest.String(); got != digest {
					t.Errorf("registry digest of %s = %s, want the digest output %s", tag, got, digest)
				}
			}
			// No staging reference is left behind. Besides the requested tags
			// there are only the cache's, none of them on the released image:
			// ECR's lifecycle policy expires whole images.
			tags, err := remote.List(ref(t, repo+":x").Context(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			var release, caches []string
			for _, tag := range tags {
				switch {
				case strings.HasPrefix(tag, "buildcache-"), strings.HasPrefix(tag, "msb-skip-"):
					caches = append(caches, tag)
				default:
					release = append(release, tag)
				}
			}
			slices.Sort(release)
			if diff := cmp.Diff([]string{sha[:7], "latest"}, release); diff != "" {
				t.Errorf("release tags in the registry (-want +got):\n%s", diff)
			}
			key := o["cache-key"]
			wantCaches := []string{"buildcache-" + key[:16], "buildcache-branch-main", "buildcache-runtime-main"}
			for _, want := range wantCaches {
				if !slices.Contains(caches, want) {
					t.Errorf("cache tag %s missing from %v", want, caches)
				}
			}
			for _, tag := range caches {
				desc, err := remote.Head(ref(t, repo+":"+tag), opts...)
				if err != nil {
					t.Fatal(err)
				}
				if desc.Digest.String() == digest {
					t.Errorf("cache tag %s points at the released image: the lifecycle policy would expire its release tags", tag)
				}
			}
			pol, err := e.Client.GetLifecyclePolicy(t.Context(), &awsecr.GetLifecyclePolicyInput{RepositoryName: aws.String("acme/app")})
			if err != nil {
				t.Fatalf("the created repository has no lifecycle policy: %v", err)
			}
			for _, want := range []string{`"tagPatternList":["buildcache-*"]`, `"tagPatternList":["msb-skip-*"]`, `"countNumber":14`} {
				if !strings.Contains(aws.ToString(pol.LifecyclePolicyText), want) {
					t.Errorf("lifecycle policy lacks %s: %s", want, aws.ToString(pol.LifecyclePolicyText))
				}
			}

			img, err := remote.Image(ref(t, o["image-uri"]), opts...)
			if err != nil {
				t.Fatal(err)
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			var layers int64
			for _, l := range m.Layers {
				layers += l.Size
			}
			if got, want := o["image-size-bytes"], fmt.Sprint(layers); got != want {
				t.Errorf("image-size-bytes = %s, want the sum of the manifest's layer sizes %s", got, want)
			}
			d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("acme/app"), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(digest)}}})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := o["image-size-bytes"], fmt.Sprint(aws.ToInt64(d.ImageDetails[0].ImageSizeInBytes)); got != want {
				t.Errorf("image-size-bytes = %s, want what the endpoint reports, %s", got, want)
			}

			files := imageFiles(t, img)
			if !slices.Contains(files, "app/app") {
				t.Errorf("the runtime image lacks app/app: %v", files)
			}
			for _, f := range files {
				if strings.HasPrefix(f, "opt/sdk") || strings.HasPrefix(f, "src/") {
					t.Errorf("the runtime image holds %s from the build stage", f)
				}
			}

			// The pushed image, pulled back by digest, runs.
			pullAndRun(t, docker, auth, o["image-uri"], "hello from the fixture (deps: left-pad newtonsoft-json )\n")

			// The build stage was built on its own, honouring .dockerignore,
			// and is much bigger than the runtime image.
			bs, us := atoi(t, o["build-stage-size-bytes"]), atoi(t, o["uncompressed-size-bytes"])
			if bs <= us {
				t.Errorf("build stage %d bytes, runtime %d bytes: want the build stage bigger", bs, us)
			}
			out, _ := testenv.Run(t, docker, "ms-build/acme/app:build-stage", "ls", "-a", "/src")
			if diff := cmp.Diff([]string{".", "..", ".dockerignore", "Dockerfile", "message.txt", "requirements.txt"}, strings.Fields(out)); diff != "" {
				t.Errorf("the build stage's context (-want +got):\n%s", diff)
			}

			var meta map[string]any
			if err := json.Unmarshal([]byte(o["metadata"]), &meta); err != nil || meta["digest"] != digest {
				t.Errorf("metadata = %s (%v), want a JSON object with the digest", o["metadata"], err)
			}
			for _, want := range []string{digest, o["image-size"], "Saved by the multi-stage build", sha[:7]} {
				if !strings.Contains(r.summary, want) {
					t.Errorf("the job summary lacks %q:\n%s", want, r.summary)
				}
			}
			ii, err := docker.ImageInspect(t.Context(), o["image-id"])
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]string{"org.opencontainers.image.revision": sha, "org.opencontainers.image.source": "https://github.com/acme/app"} {
				if got := ii.Config.Labels[k]; got != v {
					t.Errorf("label %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func pullAndRun(t *testing.T, docker *client.Client, auth authn.Authenticator, ref, want string) {
	t.Helper()
	cfg, _ := auth.Authorization()
	enc, _ := authconfig.Encode(registry.AuthConfig{Username: cfg.Username, Password: cfg.Password})
	rc, err := docker.ImagePull(context.Background(), ref, client.ImagePullOptions{RegistryAuth: enc})
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if bytes.Contains(b, []byte(`"errorDetail"`)) {
		t.Fatalf("pulling %s: %s", ref, b)
	}
	out, code := testenv.Run(t, docker, ref)
	if code != 0 || out != want {
		t.Errorf("running %s: exit %d, printed %q; want 0 and %q", ref, code, out, want)
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

func listImages(t *testing.T, e *testenv.ECR, repo string) []types.ImageIdentifier {
	t.Helper()
	out, err := e.Client.ListImages(t.Context(), &awsecr.ListImagesInput{RepositoryName: aws.String(repo)})
	if err != nil {
		t.Fatal(err)
	}
	return out.ImageIds
}

// TestFailingRunPushesNothing: a RUN step that fails ends the run with the
// step's name and message, exit code 1, and nothing in the registry.
func TestFailingRunPushesNothing(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := workspace(t, "twostage")
	if err := os.Remove(filepath.Join(dir, "message.txt")); err != nil {
		t.Fatal(err)
	}
	r := github(t, dir, e, map[string]string{"repository": "acme/app", "network": "none"})
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	if !regexp.MustCompile(`::error[ :]`).MatchString(r.stdout) || !strings.Contains(r.stdout, "[build 6/6] RUN compile /out") || !strings.Contains(r.stdout, "exit code: 1") {
		t.Errorf("want an error annotation naming the failing step and its exit code")
	}
	if !strings.Contains(r.stdout, "can't open 'message.txt'") {
		t.Errorf("the failing step's output is not shown")
	}
	if ids := listImages(t, e, "acme/app"); len(ids) != 0 {
		t.Errorf("the registry holds %v after a failed build, want nothing", ids)
	}
	if len(r.outputs) != 0 {
		t.Errorf("outputs were written for a failed run: %v", r.outputs)
	}
}

// TestMissingRepositoryWithoutCreate: with create-repository false, a
// missing repository fails the run before anything is built, saying what to
// do.
func TestMissingRepositoryWithoutCreate(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	r := github(t, workspace(t, "twostage"), e, map[string]string{"repository": "acme/missing", "create-repository": "false", "network": "none"})
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	want := "::error::repository acme/missing does not exist and create-repository is false: create it or set create-repository: true"
	if !strings.Contains(r.stdout, want) {
		t.Errorf("want the line %q", want)
	}
	if strings.Contains(r.logs(), "Building") {
		t.Error("the run built before finding out it could not push")
	}
	_, err := e.Client.DescribeRepositories(t.Context(), &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{"acme/missing"}})
	var nf *types.RepositoryNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("DescribeRepositories = %v, want RepositoryNotFoundException: the run must not create it", err)
	}
}

// TestNoAWSCredentials runs where the AWS SDK finds no credentials: the run
// fails before it builds, with one line that says how to give them.
func TestNoAWSCredentials(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	r := github(t, workspace(t, "twostage"), nil, map[string]string{"repository": "acme/app", "aws-region": "eu-west-1", "network": "none"},
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent")
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	if !strings.Contains(r.stdout, "::error::") || !strings.Contains(r.stdout, "no AWS credentials were found: use aws-actions/configure-aws-credentials") {
		t.Error("want an error that says no AWS credentials were found and how to give them")
	}
	if strings.Contains(r.logs(), "Building") {
		t.Error("the run built before finding out it could not push")
	}
}

// TestDryRun runs the CLI as a person would, with no AWS account: it pushes
// to the embedded registry and prints the image reference on stdout.
func TestDryRun(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	for _, transfer := range []string{"session", "tar"} {
		t.Run(transfer, func(t *testing.T) { testDryRun(t, transfer) })
	}
}

// testDryRun runs a dry run with the context sent over a session (the
// default) or as a tar body (MSB_CONTEXT=tar).
func testDryRun(t *testing.T, transfer string) {
	dir := workspace(t, "twostage")
	// A file the .dockerignore excludes, and a link out of the context:
	// neither may reach the image, whichever way the context goes.
	// A step of its own (the nonce), so that its output is shown, not cached.
	write(t, dir, "Dockerfile", "FROM msb-test/sdk:1 AS build\nWORKDIR /src\nCOPY . .\nRUN echo "+rand.Text()+" && ls -la /src && compile /out\nFROM msb-test/busybox:1\nCOPY --from=build /out/ /app/\nENTRYPOINT [\"/app/app\"]\n")
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "outside")); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, dir, []string{"MSB_CONTEXT=" + transfer}, "--dry-run", "--network", "none", "--tags", "demo")
	if strings.Contains(r.logs(), "notes.md") {
		t.Error("an ignored file reached the build")
	}
	if !strings.Contains(r.stderr, "outside -> /etc/hostname") {
		t.Error("the link out of the context did not reach the build as a link")
	}
	if strings.Contains(r.stderr, "did not take a BuildKit session") {
		t.Error("the context did not go over a session")
	}
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0", r.code)
	}
	m := regexp.MustCompile(`^127\.0\.0\.1:[0-9]+/ms-build/dry-run@(sha256:[0-9a-f]{64})\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout = %q, want the pushed image's reference alone", r.stdout)
	}
	for _, want := range []string{`Digest: +` + m[1], `Size \(compressed, as ECR counts\): +[0-9.]+ [kM]B`, `Tagged 127\.0\.0\.1:`} {
		if !regexp.MustCompile(want).MatchString(r.stderr) {
			t.Errorf("stderr lacks %q", want)
		}
	}
}

// TestEngineUnreachable: one line naming the engine's address and what to do.
func TestEngineUnreachable(t *testing.T) {
	t.Parallel()
	r := runBinary(t, workspace(t, "twostage"), []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "--dry-run")
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	lines := strings.Split(afterVersion(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "unix:///nonexistent/docker.sock does not answer: start it, or set DOCKER_HOST") {
		t.Errorf("stderr = %q, want one line naming the socket and DOCKER_HOST", r.stderr)
	}
}

// TestBadInputFailsBeforeBuild: a bad value is one line naming the input,
// exit code 1, and nothing started.
func TestBadInputFailsBeforeBuild(t *testing.T) {
	t.Parallel()
	r := github(t, workspace(t, "twostage"), nil, map[string]string{"repository": "acme/app", "aws-region": "eu-west-1", "max-image-size": "huge"})
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	want := `::error::input max-image-size: "huge" is not a size: use a number with an optional unit B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB, e.g. 250MB` + "\n"
	if afterVersion(r.stdout)+"\n" != want {
		t.Errorf("stdout = %q, want only the version and %q", r.stdout, want)
	}
}

// TestCLI checks the command line a person types: --help lists every input
// with its default, version prints the version, a bad command line exits 2
// and a bad value 1.
func TestCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	help := runBinary(t, dir, nil, "--help")
	if help.code != 0 {
		t.Errorf("--help: exit code %d, want 0", help.code)
	}
	for _, s := range []string{"--repository=VALUE", "--cache-key-files=VALUE", "--dry-run", "(default true)", "(default 14)", "Exit codes: 0 done, 1 failed, 2 usage."} {
		if !strings.Contains(help.stdout, s) {
			t.Errorf("--help lacks %q", s)
		}
	}
	if v := runBinary(t, dir, nil, "version"); v.code != 0 || !strings.HasPrefix(v.stdout, "ms-build dev") || strings.Count(v.stdout, "\n") != 1 {
		t.Errorf("version: exit %d, stdout %q", v.code, v.stdout)
	}
	for _, args := range [][]string{{"--no-such-flag"}, {"build"}} {
		r := runBinary(t, dir, nil, args...)
		if r.code != 2 || !strings.HasSuffix(r.stderr, "(ms-build --help lists the flags)\n") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a pointer to --help", args, r.code, r.stderr)
		}
	}
	r := runBinary(t, dir, nil, "--dry-run=maybe")
	if r.code != 1 || afterVersion(r.stderr) != `error: input dry-run: "maybe" is not a boolean: use true or false` {
		t.Errorf("--dry-run=maybe: exit %d, stderr %q", r.code, r.stderr)
	}
}

// afterVersion is what a run printed after its first line, the version,
// trimmed.
func afterVersion(out string) string {
	if !strings.HasPrefix(out, "ms-build ") {
		return "(no version line first) " + strings.TrimSpace(out)
	}
	_, rest, _ := strings.Cut(out, "\n")
	return strings.TrimSpace(rest)
}

// inputVar is the variable action.yml hands an input over in:
// INPUT_CACHE_KEY_FILES for cache-key-files.
func inputVar(name string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// TestDryRunTwice: the dry run's registry keeps what it stored, so a second
// dry run of the same commit (a new clone) skips to the first's image, and
// a source change hits the first's build cache.
func TestDryRunTwice(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	o := newOrigin(t, fixture(t, "twostage", ""))
	cacheHome := t.TempDir()
	dryRun := func(dir string) result {
		t.Helper()
		r := runBinary(t, dir, []string{"XDG_CACHE_HOME=" + cacheHome}, "--dry-run", "--network=none")
		if r.code != 0 {
			t.Fatalf("exit code %d, want 0", r.code)
		}
		return r
	}
	first := dryRun(o.clone())
	if !strings.Contains(first.stderr, "kept in "+filepath.Join(cacheHome, "ms-build", "dry-run-registry")) {
		t.Errorf("the first dry run does not say where its registry keeps its data")
	}
	checkTimings(t, first.stderr)
	second := dryRun(o.clone())
	if !regexp.MustCompile(`Build: +skipped`).MatchString(second.stderr) || second.stdout != first.stdout {
		t.Errorf("second dry run of the same commit: stdout %q (first %q); want skipped: true and the same image", second.stdout, first.stdout)
	}
	o.commit(map[string]string{"message.txt": "changed " + rand.Text() + "\n"}, "a source change")
	third := dryRun(o.clone())
	if !regexp.MustCompile(`Build cache: +hit`).MatchString(third.stderr) || third.stdout == first.stdout {
		t.Errorf("a source change: stdout %q; want a new image built on the first's cache (cache-hit: true)", third.stdout)
	}
}

// checkTimings reads a summary's timings: a row for storing the build cache,
// and the rows of the run's own steps (not the work beside them) add up to
// the total within 5%.
func checkTimings(t *testing.T, stderr string) {
	t.Helper()
	_, block, ok := strings.Cut(stderr, "Timings (seconds)\n")
	if !ok {
		t.Fatalf("no timings in the summary:\n%s", stderr)
	}
	var sum, total float64
	store := false
	for _, line := range strings.Split(block, "\n") {
		m := regexp.MustCompile(`^  (.+?) +([0-9]+\.[0-9]+)$`).FindStringSubmatch(line)
		if m == nil {
			break
		}
		v, _ := strconv.ParseFloat(m[2], 64)
		switch {
		case m[1] == "total":
			total = v
		case strings.Contains(m[1], "beside"):
			store = store || strings.Contains(m[1], "build cache store")
		default:
			sum += v
		}
	}
	if !store {
		t.Errorf("no row for storing the build cache:\n%s", block)
	}
	if total == 0 || math.Abs(sum-total) > 0.05*total {
		t.Errorf("the steps' rows add up to %.2fs, the total is %.2fs:\n%s", sum, total, block)
	}
}
