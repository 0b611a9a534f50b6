package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/ms-build-action/internal/testenv"
)

// Hostile values for labels and annotations: a workflow command, %, quotes,
// a shell expansion, a GitHub expression and a long value.
var (
	oddValue  = `100% done ::error::no "double" 'single' $HOME ${{ github.token }} %0A`
	longValue = strings.Repeat("0123456789abcdef", 256) // 4 KiB
)

// TestLabelsAndAnnotations builds a fresh git clone with labels and
// annotations into the ECR endpoint (distribution/v3 behind it), with a
// GitHub event payload that describes the repository, and reads the pushed
// image back from the registry: the config's labels (the repository's OCI
// labels, the user's over them), the manifest's annotations, and the digest
// the run reported. A later commit with the same inputs skips onto that
// same manifest.
func TestLabelsAndAnnotations(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.DistributionV3)
	dir := gitClone(t, twoStageFiles(t))
	event := filepath.Join(t.TempDir(), "event.json")
	payload := `{"repository":{"default_branch":"main","name":"app","html_url":"https://github.com/acme/app",` +
		`"description":"The app: 100% \"ours\" ::warning::x\nsecond line","license":{"key":"mit","spdx_id":"MIT"}}}`
	if err := os.WriteFile(event, []byte(payload), 0o644); err != nil {
		t.Fatal(err)
	}
	inputs := map[string]string{
		"repository":  "acme/app",
		"network":     "none",
		"tags":        "v1",
		"labels":      "# the team's\ncom.example.team=payments\norg.opencontainers.image.title=App Server\ncom.example.odd=" + oddValue + "\ncom.example.long=" + longValue + "\n",
		"annotations": "com.example.ticket=X-1\r\norg.opencontainers.image.description=annotated " + oddValue + "\ncom.example.long=" + longValue,
	}
	r := github(t, dir, e, inputs, "GITHUB_EVENT_PATH="+event)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0", r.code)
	}
	o := r.outputs
	if got, want := o["registry"], e.Registry; got != want {
		t.Errorf("registry = %q, want the endpoint's proxyEndpoint host %q", got, want)
	}
	digest := o["digest"]
	if got, want := o["image-uri"], e.Registry+"/acme/app@"+digest; got != want {
		t.Errorf("image-uri = %q, want %q", got, want)
	}

	opts := []remote.Option{remote.WithAuth(login(t, e)), remote.WithContext(t.Context())}
	desc, err := remote.Get(ref(t, e.Registry+"/acme/app:v1"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.Digest.String(); got != digest {
		t.Errorf("v1 is at %s in the registry, want the digest output %s", got, digest)
	}
	if desc.MediaType != types.OCIManifestSchema1 {
		t.Errorf("v1 is a %s, want an OCI image manifest (a Docker schema 2 manifest has no annotations)", desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	wantAnn := map[string]string{"com.example.ticket": "X-1", "org.opencontainers.image.description": "annotated " + oddValue, "com.example.long": longValue}
	if diff := cmp.Diff(wantAnn, m.Annotations); diff != "" {
		t.Errorf("manifest annotations (-want +got):\n%s", diff)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("config media type %s, want %s", m.Config.MediaType, types.OCIConfigJSON)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	labels := cfg.Config.Labels
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(labels["org.opencontainers.image.created"]) {
		t.Errorf("created = %q, want an RFC 3339 time", labels["org.opencontainers.image.created"])
	}
	delete(labels, "org.opencontainers.image.created")
	wantLabels := map[string]string{
		"org.opencontainers.image.title":       "App Server",
		"org.opencontainers.image.description": "The app: 100% \"ours\" ::warning::x\nsecond line",
		"org.opencontainers.image.url":         "https://github.com/acme/app",
		"org.opencontainers.image.source":      "https://github.com/acme/app",
		"org.opencontainers.image.version":     "main",
		"org.opencontainers.image.licenses":    "MIT",
		"org.opencontainers.image.revision":    sha,
		"com.example.team":                     "payments",
		"com.example.odd":                      oddValue,
		"com.example.long":                     longValue,
	}
	if diff := cmp.Diff(wantLabels, labels); diff != "" {
		t.Errorf("config labels (-want +got):\n%s", diff)
	}
	if id, _ := img.ConfigName(); id.String() != o["image-id"] {
		t.Errorf("config %s, want the image-id output %s: the annotated manifest must keep the image", id, o["image-id"])
	}
	// The Docker schema 2 manifest the engine pushed went with its staging
	// tag: every image left is tagged.
	for _, id := range listImages(t, e, "acme/app") {
		if id.ImageTag == nil {
			t.Errorf("untagged image %s left in the repository", *id.ImageDigest)
		}
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(o["metadata"]), &meta); err != nil || meta["registry"] != e.Registry || meta["digest"] != digest {
		t.Errorf("metadata = %s (%v), want the registry and the digest", o["metadata"], err)
	}

	// A later commit with the same inputs skips, and tags the same manifest.
	again := github(t, dir, e, map[string]string{"repository": "acme/app", "network": "none", "tags": "v2",
		"labels": inputs["labels"], "annotations": inputs["annotations"]},
		"GITHUB_EVENT_PATH="+event, "GITHUB_SHA=9999999999999999999999999999999999999999")
	if again.code != 0 || again.outputs["skipped"] != "true" || again.outputs["digest"] != digest {
		t.Fatalf("second commit: exit %d, skipped %s, digest %s; want a skip onto %s", again.code, again.outputs["skipped"], again.outputs["digest"], digest)
	}
	d2, err := remote.Head(ref(t, e.Registry+"/acme/app:v2"), opts...)
	if err != nil || d2.Digest.String() != digest {
		t.Errorf("v2 at %v (%v), want %s", d2, err, digest)
	}
	assertNoSecret(t, r, e.Passwords()...)
}

// TestLabelsOnTheCommandLine runs the CLI on a clone whose origin URL holds
// a token, with repeated --labels and --annotations flags, as a dry run: the
// labels come from git (the token dropped), the embedded registry takes the
// OCI manifest, and the report names the registry.
func TestLabelsOnTheCommandLine(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	dir := gitClone(t, twoStageFiles(t))
	const token = "ghs_" + "S3CRETt0ken1234567890"
	cmd := exec.Command("git", "remote", "set-url", "origin", "https://x-access-token:"+token+"@github.com/acme/app.git")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	r := runBinary(t, dir, nil, "--dry-run", "--network", "none", "--tags", "demo",
		"--labels", "com.example.team=payments", "--labels", "com.example.odd="+oddValue, "--annotations", "com.example.ticket=X-1")
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0", r.code)
	}
	m := regexp.MustCompile(`Registry: +(127\.0\.0\.1:[0-9]+)\n`).FindStringSubmatch(r.stderr)
	if m == nil || !strings.HasPrefix(r.stdout, m[1]+"/ms-build/dry-run@sha256:") {
		t.Errorf("the report names no registry, or another than the image's: %v, stdout %q", m, r.stdout)
	}
	if !strings.Contains(r.stderr, "Annotated the image") {
		t.Error("the run did not publish the annotated manifest")
	}
	id := regexp.MustCompile(`Image id: +(sha256:[0-9a-f]{64})`).FindStringSubmatch(r.stderr)
	if id == nil {
		t.Fatalf("no image-id in the report")
	}
	ii, err := docker.ImageInspect(t.Context(), id[1])
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.source": "https://github.com/acme/app", "org.opencontainers.image.url": "https://github.com/acme/app",
		"org.opencontainers.image.title": "app", "org.opencontainers.image.version": "main",
		"com.example.team": "payments", "com.example.odd": oddValue,
	} {
		if got := ii.Config.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	assertNoSecret(t, result{stdout: r.stdout, stderr: r.stderr, home: r.home}, token)
	for k, v := range ii.Config.Labels {
		if strings.Contains(v, token) {
			t.Errorf("label %s holds the origin's token", k)
		}
	}
}

// twoStageFiles are the two-stage fixture's files at its top level (gitClone
// writes no directories).
func twoStageFiles(t *testing.T) map[string]string {
	t.Helper()
	files := fixture(t, "twostage", "")
	for name := range files {
		if strings.Contains(name, "/") {
			delete(files, name)
		}
	}
	return files
}

// frontendLabel checks that the labels input reached the image through the
// front end (action.yml's env, the component's variables).
func frontendLabel(t *testing.T, e *testenv.ECR, image, want string) {
	t.Helper()
	img, err := remote.Image(ref(t, e.Registry+"/"+image), remote.WithAuth(login(t, e)), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Config.Labels["com.example.frontend"]; got != want {
		t.Errorf("%s: label com.example.frontend = %q, want %q: the labels input did not reach the binary", image, got, want)
	}
}
