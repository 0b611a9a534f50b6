package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/ms-build-action/internal/testenv"
)

// The pipeline's whole-binary tests on a standalone BuildKit builder: a real
// buildkitd (testenv.BuildKit: loopback TCP with mTLS, base images from its
// docker.io mirror) and no Docker engine at all: every run's DOCKER_HOST
// names a socket that does not exist.

// noEngine is the DOCKER_HOST of a run on a BuildKit builder: nothing
// answers there, so a run that asked an engine anything would fail.
const noEngine = "DOCKER_HOST=unix:///nonexistent/msb-no-engine.sock"

// bkInputs are the builder inputs for d: its address, the CA by path, the
// client certificate and its key as PEM text (both forms are accepted; the
// key's text is what a run must never print).
func bkInputs(d *testenv.BuildKitd) map[string]string {
	return map[string]string{
		"builder":       d.Addr,
		"buildkit-ca":   d.CAFile,
		"buildkit-cert": string(d.Cert),
		"buildkit-key":  string(d.Key),
	}
}

// withInputs is inputs with more added (more wins).
func withInputs(inputs map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range inputs {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// bkGitHub runs the binary as a GitHub step on the BuildKit builder d, with
// no engine.
func bkGitHub(t *testing.T, d *testenv.BuildKitd, dir string, e *testenv.ECR, inputs map[string]string, extra ...string) result {
	t.Helper()
	return github(t, dir, e, withInputs(bkInputs(d), inputs), append([]string{noEngine}, extra...)...)
}

// registryImage reads an image from the ECR emulator's registry.
func registryImage(t *testing.T, e *testenv.ECR, s string) v1.Image {
	t.Helper()
	img, err := remote.Image(ref(t, s), remote.WithAuth(login(t, e)), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("reading %s from the registry: %v", s, err)
	}
	return img
}

// TestBuildKitCacheOnFreshBuilder: a first run on a BuildKit builder
// misses and stores the build stage's cache; a source-only change on a
// fresh builder (the daemon restarted with an empty root: a new runner's)
// hits it, its dependency steps CACHED, and pushes an image with the new
// source, read back from the registry.
func TestBuildKitCacheOnFreshBuilder(t *testing.T) {
	d := testenv.BuildKit(t)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := workspace(t, "twostage")
	inputs := map[string]string{"repository": "acme/app", "network": "none", "tags": "build-1"}

	cold := bkGitHub(t, d, dir, e, inputs)
	if cold.code != 0 {
		t.Fatalf("cold run: exit code %d", cold.code)
	}
	if got := cold.outputs["cache-hit"]; got != "false" {
		t.Errorf("cold run: cache-hit = %s, want false", got)
	}
	if !strings.Contains(cold.stdout, "restoring left-pad") {
		t.Error("cold run: the restore step did not run")
	}
	key := cold.outputs["cache-key"]
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(key) {
		t.Fatalf("cold run: cache-key = %q", key)
	}
	if digestOf(t, e, "acme/app", "buildcache-"+key[:16]) == "" {
		t.Errorf("cold run: no buildcache-%s in the registry", key[:16])
	}
	checkBuildKitOutputs(t, e, cold, "acme/app", []string{"build-1"})
	assertNoSecret(t, cold, append(pemLines(d.Key), e.Passwords()...)...)

	write(t, dir, "message.txt", "hello again\n")
	d.Restart(t)
	inputs["tags"] = "build-2"
	warm := bkGitHub(t, d, dir, e, inputs)
	if warm.code != 0 {
		t.Fatalf("source change: exit code %d", warm.code)
	}
	if got := warm.outputs["cache-key"]; got != key {
		t.Errorf("source change: cache-key = %s, want the cold run's %s", got, key)
	}
	if got := warm.outputs["cache-hit"]; got != "true" {
		t.Errorf("source change: cache-hit = %s, want true", got)
	}
	if !strings.Contains(warm.stdout, "DONE [build 6/6] RUN compile /out") {
		t.Error("source change: the compile step did not run again")
	}
	img := registryImage(t, e, warm.outputs["image-uri"])
	if got, want := testenv.ImageFile(t, img, "app/app"), `echo "hello again (deps: left-pad newtonsoft-json )"`; !strings.Contains(got, want) {
		t.Errorf("the pushed /app/app = %q, want it to hold %q", got, want)
	}
	for _, f := range imageFiles(t, img) {
		if strings.HasPrefix(f, "opt/sdk") || strings.HasPrefix(f, "src/") {
			t.Errorf("the runtime image holds %s from the build stage", f)
		}
	}
	if slices.Contains(strings.Split(warm.outputs["tags"], "\n"), e.Registry+"/acme/app:build-1") {
		t.Error("the second run reports the first run's tag")
	}
	// The build stage's steps came from the cache: BuildKit's combined
	// cache takes a key from whichever import answers first, and the runtime
	// cache knows the stage's keys without their layers, so the pipeline
	// builds the stage first, from the build cache alone.
	if !strings.Contains(warm.stdout, "CACHED [build 4/6] RUN restore requirements.txt") || strings.Contains(warm.stdout, "restoring left-pad") {
		t.Error("source change: the restore step was not taken from the cache")
	}
}

// checkBuildKitOutputs checks a successful run's outputs against what the
// registry holds: the digest of every tag, a plain image manifest (no
// index, no attestations), its config digest as image-id, its layers' sizes,
// and sizes that make sense.
func checkBuildKitOutputs(t *testing.T, e *testenv.ECR, r result, repo string, tags []string) {
	t.Helper()
	o := r.outputs
	digest := o["digest"]
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest) {
		t.Fatalf("digest output = %q", digest)
	}
	uri := e.Registry + "/" + repo
	if got, want := o["image-uri"], uri+"@"+digest; got != want {
		t.Errorf("image-uri = %q, want %q", got, want)
	}
	var wantTags []string
	for _, tag := range tags {
		wantTags = append(wantTags, uri+":"+tag)
		if got := digestOf(t, e, repo, tag); got != digest {
			t.Errorf("tag %s points at %q, want the digest output %s", tag, got, digest)
		}
	}
	if got := strings.Split(o["tags"], "\n"); !slices.Equal(got, wantTags) {
		t.Errorf("tags = %q, want %q", got, wantTags)
	}
	img := registryImage(t, e, o["image-uri"])
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("the pushed manifest is %s, want a plain OCI image manifest", m.MediaType)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if got := o["image-id"]; got != cfg.String() {
		t.Errorf("image-id = %s, want the config digest the registry holds, %s", got, cfg)
	}
	var layers int64
	for _, l := range m.Layers {
		layers += l.Size
	}
	if got, want := o["image-size-bytes"], fmt.Sprint(layers); got != want {
		t.Errorf("image-size-bytes = %s, want the sum of the manifest's layer sizes %s", got, want)
	}
	d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(digest)}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o["image-size-bytes"], fmt.Sprint(aws.ToInt64(d.ImageDetails[0].ImageSizeInBytes)); got != want {
		t.Errorf("image-size-bytes = %s, want what the endpoint reports, %s", got, want)
	}
	us, bs := atoi(t, o["uncompressed-size-bytes"]), atoi(t, o["build-stage-size-bytes"])
	if us <= 0 || bs <= us {
		t.Errorf("uncompressed-size-bytes %d, build-stage-size-bytes %d: want both more than 0, the build stage (with the SDK) bigger", us, bs)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(o["cache-key"]) || (o["cache-hit"] != "true" && o["cache-hit"] != "false") {
		t.Errorf("cache-key %q, cache-hit %q", o["cache-key"], o["cache-hit"])
	}
}

// bkRecords counts the build cache records in d: a build leaves some, a
// skipped run none.
func bkRecords(t *testing.T, d *testenv.BuildKitd) int {
	t.Helper()
	du, err := d.Client(t).DiskUsage(t.Context())
	if err != nil {
		t.Fatalf("asking buildkitd for its disk usage: %v", err)
	}
	return len(du)
}

// TestBuildKitSkip: a second run of the same commit, from a fresh git
// clone on a fresh builder, skips: the first run's image gets the new tag
// and the daemon builds nothing.
func TestBuildKitSkip(t *testing.T) {
	d := testenv.BuildKit(t)
	e := testenv.StartECR(t, testenv.GGCR)
	o := newOrigin(t, fixture(t, "twostage", ""))
	inputs := map[string]string{"repository": "acme/app", "network": "none", "tags": "one"}
	first := bkGitHub(t, d, o.clone(), e, inputs)
	if first.code != 0 || first.outputs["skipped"] != "false" {
		t.Fatalf("first run: exit code %d, skipped %q; want 0 and false", first.code, first.outputs["skipped"])
	}
	if n := bkRecords(t, d); n == 0 {
		t.Fatal("the first run left no build record in the daemon: the check below proves nothing")
	}
	d.Restart(t)
	inputs["tags"] = "two"
	again := bkGitHub(t, d, o.clone(), e, inputs)
	if again.code != 0 {
		t.Fatalf("re-run: exit code %d", again.code)
	}
	if again.outputs["skipped"] != "true" || again.outputs["digest"] != first.outputs["digest"] {
		t.Errorf("re-run: skipped %s, digest %s; want true and %s", again.outputs["skipped"], again.outputs["digest"], first.outputs["digest"])
	}
	if strings.Contains(again.stdout, "Building") {
		t.Error("re-run: a build was started")
	}
	if n := bkRecords(t, d); n != 0 {
		t.Errorf("re-run: the daemon has %d build records, want none: nothing may be built", n)
	}
	if got := digestOf(t, e, "acme/app", "two"); got != first.outputs["digest"] {
		t.Errorf("tag two points at %q, want the first run's image %s", got, first.outputs["digest"])
	}
	for _, k := range []string{"image-id", "image-size-bytes"} {
		if again.outputs[k] != first.outputs[k] {
			t.Errorf("re-run: %s = %q, want the first run's %q", k, again.outputs[k], first.outputs[k])
		}
	}
}

// TestBuildKitAtomicPublish: a failing RUN step and an image over
// max-image-size each fail the run with exit code 1 and attach no tag.
func TestBuildKitAtomicPublish(t *testing.T) {
	d := testenv.BuildKit(t)
	e := testenv.StartECR(t, testenv.GGCR)
	t.Run("failing step", func(t *testing.T) {
		dir := workspace(t, "twostage")
		if err := os.Remove(filepath.Join(dir, "message.txt")); err != nil {
			t.Fatal(err)
		}
		r := bkGitHub(t, d, dir, e, map[string]string{"repository": "acme/fail", "network": "none", "tags": "v1"})
		if r.code != 1 {
			t.Errorf("exit code %d, want 1", r.code)
		}
		if !regexp.MustCompile(`::error[ :].*\[build 6/6\] RUN compile /out`).MatchString(r.stdout) || !strings.Contains(r.stdout, "exit code: 1") {
			t.Error("want an error annotation naming the failing step and its exit code")
		}
		if !strings.Contains(r.stdout, "can't open 'message.txt'") {
			t.Error("the failing step's output is not shown")
		}
		if ids := listImages(t, e, "acme/fail"); len(ids) != 0 {
			t.Errorf("the registry holds %v after a failed build, want nothing", ids)
		}
		if len(r.outputs) != 0 {
			t.Errorf("outputs were written for a failed run: %v", r.outputs)
		}
	})
	t.Run("max-image-size", func(t *testing.T) {
		r := bkGitHub(t, d, workspace(t, "twostage"), e, map[string]string{"repository": "acme/big", "network": "none", "tags": "v1", "max-image-size": "1KB"})
		if r.code != 1 {
			t.Errorf("exit code %d, want 1", r.code)
		}
		if !strings.Contains(r.stdout, "::error::input max-image-size: the image is") || !strings.Contains(r.stdout, "no tag was attached") {
			t.Error("want an error naming max-image-size and saying no tag was attached")
		}
		for _, id := range listImages(t, e, "acme/big") {
			if tag := aws.ToString(id.ImageTag); tag == "v1" || strings.HasPrefix(tag, "msb-") {
				t.Errorf("the registry holds tag %s after a failed size check", tag)
			}
		}
	})
}

// pemLines are the lines of a PEM block worth searching for: its base64
// body.
func pemLines(p []byte) []string {
	var out []string
	for _, l := range strings.Split(string(p), "\n") {
		if len(l) >= 16 && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	return out
}

// TestBuildKitBadInput: a builder nobody answers at, a client certificate
// the daemon's CA did not sign, a certificate without its key, and several
// platforms on the engine: each fails with exit code 1 and one error line
// that names the builder's address or the input and says what to do;
// nothing is pushed, and no key is ever printed.
func TestBuildKitBadInput(t *testing.T) {
	d := testenv.BuildKit(t)
	e := testenv.StartECR(t, testenv.GGCR)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "tcp://" + l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		want   []string // in the error line
	}{
		{"nobody listens", map[string]string{"builder": nobody, "buildkit-key": string(d.Key)},
			[]string{"the BuildKit daemon at " + nobody + " does not answer: check the builder address"}},
		{"unsigned client certificate", map[string]string{"buildkit-cert": d.UnsignedCertFile, "buildkit-key": string(d.UnsignedKey)},
			[]string{"the BuildKit daemon at " + d.Addr + " does not answer", "buildkit-cert"}},
		{"hostile address", map[string]string{"builder": "tcp://127.0.0.1:1/%0A\n::error::forged \"quoted\" " + strings.Repeat("x", 300)},
			[]string{"input builder: ", "is not an address: give docker"}},
		{"certificate without key", map[string]string{"buildkit-key": ""},
			[]string{"input buildkit-key: ", "give both"}},
		{"platforms on the engine", map[string]string{"builder": "docker", "buildkit-ca": "", "buildkit-cert": "", "buildkit-key": "", "platforms": "linux/amd64,linux/arm64"},
			[]string{"input platforms: ", "need a BuildKit builder"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := "acme/bad-" + strings.ReplaceAll(tc.name, " ", "-")
			start := time.Now()
			r := bkGitHub(t, d, workspace(t, "twostage"), e, withInputs(map[string]string{"repository": repo, "network": "none"}, tc.inputs))
			t.Logf("failed in %v", time.Since(start))
			if r.code != 1 {
				t.Errorf("exit code %d, want 1", r.code)
			}
			var errs []string
			for _, line := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(line, "::error") {
					errs = append(errs, line)
				}
			}
			if len(errs) != 1 {
				t.Fatalf("error lines %q, want one", errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0], w) {
					t.Errorf("the error %q lacks %q", errs[0], w)
				}
			}
			if strings.Contains(r.logs(), "Building") {
				t.Error("the run built")
			}
			if _, err := e.Client.DescribeRepositories(t.Context(), &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{repo}}); err == nil {
				for _, id := range listImages(t, e, repo) {
					t.Errorf("the registry holds %s", aws.ToString(id.ImageTag))
				}
			}
			assertNoSecret(t, r, append(pemLines(d.Key), pemLines(d.UnsignedKey)...)...)
		})
	}
}

// bkEnv is the builder inputs for d as the action passes them, and no
// engine: for runs started by hand.
func bkEnv(d *testenv.BuildKitd) []string {
	env := []string{noEngine}
	for k, v := range bkInputs(d) {
		env = append(env, inputVar(k)+"="+v)
	}
	return env
}

// TestBuildKitCancel: SIGINT in the middle of a RUN step on a BuildKit
// builder ends the run within 5 s with exit code 1 and a line saying it
// was cancelled; the step stops in the daemon, which then builds another
// context at once; no tag is attached.
func TestBuildKitCancel(t *testing.T) {
	d := testenv.BuildKit(t)
	e := testenv.StartECR(t, testenv.GGCR)
	const marker = "sleep 333"
	cmd, out := startLongBuild(t, e, marker, bkEnv(d)...)
	deadline := time.Now().Add(30 * time.Second)
	for !running(marker) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !running(marker) {
		t.Fatalf("the build step never started:\n%s", out.String())
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(sent)
	t.Logf("exited %v after SIGINT: %v\n%s", took, err, out.String())
	if took > 5*time.Second {
		t.Errorf("exit took %v after SIGINT, want at most 5s", took)
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d after a cancel, want 1", code)
	}
	if !strings.Contains(out.String(), "::error::cancelled: ") {
		t.Error("no line saying the run was cancelled")
	}
	deadline = time.Now().Add(5 * time.Second)
	for running(marker) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if running(marker) {
		t.Errorf("the step still runs in the daemon %v after the run was cancelled", time.Since(sent))
	} else {
		t.Logf("the step no longer runs in the daemon %v after SIGINT", time.Since(sent))
	}
	for _, id := range listImages(t, e, "acme/app") {
		t.Errorf("the registry holds %s after a cancelled run", aws.ToString(id.ImageTag))
	}
	// The daemon is free: another context builds and pushes at once.
	dir := workspace(t, "twostage")
	write(t, dir, "message.txt", "after the cancel\n")
	start := time.Now()
	r := bkGitHub(t, d, dir, e, map[string]string{"repository": "acme/next", "network": "none", "tags": "v1"})
	t.Logf("the next build took %v", time.Since(start))
	if r.code != 0 || digestOf(t, e, "acme/next", "v1") != r.outputs["digest"] {
		t.Errorf("the next build: exit code %d, v1 at %q; want 0 and %q", r.code, digestOf(t, e, "acme/next", "v1"), r.outputs["digest"])
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("the next build took %v: the daemon was still busy", took)
	}
}

// TestBuildKitPrivateBase builds, from a fresh git clone, FROM an image
// only a registry that checks credentials holds (distribution/v3 with
// htpasswd), pulled by the daemon with the login from the Docker config
// (DOCKER_CONFIG) that the run hands it over the session.
func TestBuildKitPrivateBase(t *testing.T) {
	const user = "msb-puller"
	password := "pw-" + rand.Text()
	h, _ := testenv.Distribution(t, user, password)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	base := host + "/base/busybox:1"
	marker := testenv.PushBase(t, base, &authn.Basic{Username: user, Password: password})
	if _, err := remote.Image(ref(t, base), remote.WithContext(t.Context())); err == nil {
		t.Fatal("the registry serves the base without credentials: the test proves nothing")
	}
	cfgDir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	write(t, cfgDir, "config.json", `{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`)

	d := testenv.BuildKit(t)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := gitClone(t, map[string]string{
		"Dockerfile": "FROM " + base + " AS build\nRUN cat /marker.txt > /out.txt\n\nFROM " + base + "\nCOPY --from=build /out.txt /copied.txt\n",
		"app.txt":    "hello\n",
	})
	r := bkGitHub(t, d, dir, e, map[string]string{"repository": "acme/app", "network": "none", "tags": "v1"}, "DOCKER_CONFIG="+cfgDir)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0: a private base image named in the Docker config must build", r.code)
	}
	img := registryImage(t, e, e.Registry+"/acme/app:v1")
	if got := testenv.ImageFile(t, img, "copied.txt"); strings.TrimSpace(got) != marker {
		t.Errorf("/copied.txt = %q, want the private base's marker %q", got, marker)
	}
	assertNoSecret(t, r, append(e.Passwords(), password, auth)...)
}

// TestBuildKitPullRequest is the trust model's story (testTrust) on a
// BuildKit builder, each run on a fresh one: a pull request reads the
// default branch's cache and writes none.
func TestBuildKitPullRequest(t *testing.T) {
	d := testenv.BuildKit(t)
	testTrust(t, "acme/trust-buildkit", func(t *testing.T) { d.Restart(t) }, githubTrust(bkInputs(d), noEngine))
}

// TestBuildKitDryRun: the CLI's dry run on a BuildKit builder, given by
// flags: the embedded registry is on loopback, which the daemon reaches.
func TestBuildKitDryRun(t *testing.T) {
	d := testenv.BuildKit(t)
	dir := workspace(t, "twostage")
	r := runBinary(t, dir, []string{noEngine, "XDG_CACHE_HOME=" + t.TempDir()}, "--dry-run", "--network", "none", "--tags", "demo",
		"--builder", d.Addr, "--buildkit-ca", d.CAFile, "--buildkit-cert", d.CertFile, "--buildkit-key", d.KeyFile)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0", r.code)
	}
	m := regexp.MustCompile(`^(127\.0\.0\.1:[0-9]+/ms-build/dry-run)@(sha256:[0-9a-f]{64})\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout = %q, want the pushed image's reference alone", r.stdout)
	}
	for _, want := range []string{`Digest: +` + m[2], `Tagged 127\.0\.0\.1:[0-9]+/ms-build/dry-run:demo`} {
		if !regexp.MustCompile(want).MatchString(r.stderr) {
			t.Errorf("stderr lacks %q", want)
		}
	}
}
