package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/org/ms-build-action/internal/testenv"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCacheAcrossFreshRunners runs the fixture as CI would, each time on a
// fresh runner (no image, no build cache in the engine): the build stage's
// layers come back from the registry under the dependency key.
func TestCacheAcrossFreshRunners(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := workspace(t, "twostage")
	inputs := map[string]string{"repository": "acme/app", "network": "none", "tags": "build-1"}

	testenv.FreshRunner(t, docker)
	cold := github(t, dir, e, inputs)
	if cold.code != 0 {
		t.Fatalf("cold run: exit code %d", cold.code)
	}
	if got := cold.outputs["cache-hit"]; got != "false" {
		t.Errorf("cold run: cache-hit = %s, want false", got)
	}
	if !strings.Contains(cold.stdout, "restoring left-pad") {
		t.Error("cold run: the restore step did not run")
	}

	// A source-only change, on a fresh runner: same key, a hit, and the
	// trace shows the restore step cached, not run.
	write(t, dir, "message.txt", "hello again\n")
	testenv.FreshRunner(t, docker)
	inputs["tags"] = "build-2"
	warm := github(t, dir, e, inputs)
	if warm.code != 0 {
		t.Fatalf("source change: exit code %d", warm.code)
	}
	if got, want := warm.outputs["cache-key"], cold.outputs["cache-key"]; got != want {
		t.Errorf("source change: cache-key = %s, want the cold run's %s", got, want)
	}
	if got := warm.outputs["cache-hit"]; got != "true" {
		t.Errorf("source change: cache-hit = %s, want true", got)
	}
	if !strings.Contains(warm.stdout, "CACHED [build 4/6] RUN restore requirements.txt") || strings.Contains(warm.stdout, "restoring left-pad") {
		t.Error("source change: the restore step was not taken from the cache")
	}
	if !strings.Contains(warm.stdout, "DONE [build 6/6] RUN compile /out") {
		t.Error("source change: the compile step did not run again")
	}
	pullAndRun(t, docker, login(t, e), warm.outputs["image-uri"], "hello again (deps: left-pad newtonsoft-json )\n")

	// A dependency change: a new key and a miss.
	write(t, dir, "requirements.txt", "left-pad\nnewtonsoft-json\nserilog\n")
	testenv.FreshRunner(t, docker)
	inputs["tags"] = "build-3"
	deps := github(t, dir, e, inputs)
	if deps.code != 0 {
		t.Fatalf("dependency change: exit code %d", deps.code)
	}
	if deps.outputs["cache-key"] == cold.outputs["cache-key"] {
		t.Error("dependency change: the cache key did not move")
	}
	if got := deps.outputs["cache-hit"]; got != "false" {
		t.Errorf("dependency change: cache-hit = %s, want false", got)
	}
	if !strings.Contains(deps.stdout, "restoring serilog") {
		t.Error("dependency change: the restore step did not run")
	}

	// Nothing changed: no build at all, the same digest, the new tag added.
	testenv.FreshRunner(t, docker)
	inputs["tags"] = "build-4"
	same := github(t, dir, e, inputs)
	if same.code != 0 {
		t.Fatalf("unchanged re-run: exit code %d", same.code)
	}
	if got := same.outputs["skipped"]; got != "true" {
		t.Errorf("unchanged re-run: skipped = %s, want true", got)
	}
	if got, want := same.outputs["digest"], deps.outputs["digest"]; got != want {
		t.Errorf("unchanged re-run: digest %s, want the previous run's %s", got, want)
	}
	if strings.Contains(same.stdout, "Building") {
		t.Error("unchanged re-run: a build was started")
	}
	if n := testenv.BuildCacheRecords(t, docker); n != 0 {
		t.Errorf("unchanged re-run: the engine has %d build cache records, want none: nothing may be built", n)
	}
	if got, want := same.outputs["tags"], e.Registry+"/acme/app:build-4"; got != want {
		t.Errorf("unchanged re-run: tags = %q, want %q", got, want)
	}
	d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("acme/app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("build-4")}}})
	if err != nil || aws.ToString(d.ImageDetails[0].ImageDigest) != deps.outputs["digest"] {
		t.Errorf("build-4 does not point at the previous run's image: %v", err)
	}
	if got, want := same.outputs["image-size-bytes"], deps.outputs["image-size-bytes"]; got != want {
		t.Errorf("unchanged re-run: image-size-bytes = %s, want %s", got, want)
	}
	if got, want := same.outputs["image-id"], deps.outputs["image-id"]; got != want {
		t.Errorf("unchanged re-run: image-id = %s, want %s", got, want)
	}
}

// TestSkipOnImmutableRepository: re-running a job against a repository
// whose tags are immutable succeeds, skipping the build.
func TestSkipOnImmutableRepository(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	if _, err := e.Client.CreateRepository(t.Context(), &awsecr.CreateRepositoryInput{RepositoryName: aws.String("acme/app"), ImageTagMutability: types.ImageTagMutabilityImmutable}); err != nil {
		t.Fatal(err)
	}
	dir := workspace(t, "twostage")
	inputs := map[string]string{"repository": "acme/app", "network": "none"}
	first := github(t, dir, e, inputs)
	if first.code != 0 {
		t.Fatalf("first run: exit code %d", first.code)
	}
	again := github(t, dir, e, inputs)
	if again.code != 0 {
		t.Fatalf("re-run: exit code %d", again.code)
	}
	if again.outputs["skipped"] != "true" || again.outputs["digest"] != first.outputs["digest"] {
		t.Errorf("re-run: skipped %s, digest %s; want true and %s", again.outputs["skipped"], again.outputs["digest"], first.outputs["digest"])
	}
}

// TestBrokenCacheBuildsAnyway: a cache image that cannot be pulled is a
// warning and a full build, never a failure.
func TestBrokenCacheBuildsAnyway(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := workspace(t, "twostage")
	inputs := map[string]string{"repository": "acme/app", "network": "none", "tags": "one"}
	first := github(t, dir, e, inputs)
	if first.code != 0 {
		t.Fatalf("first run: exit code %d", first.code)
	}
	// Replace the key's cache, and the branch's, with a manifest whose layer
	// does not exist.
	tag := "buildcache-" + first.outputs["cache-key"][:16]
	for _, tag := range []string{tag, "buildcache-branch-main"} {
		putBrokenManifest(t, e, tag)
	}

	write(t, dir, "message.txt", "built anyway\n")
	testenv.FreshRunner(t, docker)
	inputs["tags"] = "two"
	r := github(t, dir, e, inputs)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0: a broken cache must not fail the build", r.code)
	}
	if !strings.Contains(r.stdout, "::warning::cache "+tag+" could not be used") {
		t.Error("no warning about the broken cache")
	}
	if !strings.Contains(r.stdout, "restoring left-pad") {
		t.Error("the restore step did not run: the build was not a full build")
	}
}

// putBrokenManifest puts, under tag, a manifest whose blobs do not exist.
func putBrokenManifest(t *testing.T, e *testenv.ECR, tag string) {
	t.Helper()
	broken := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("1", 64) + `","size":2},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:` + strings.Repeat("2", 64) + `","size":3}]}`
	auth, _ := login(t, e).Authorization()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, fmt.Sprintf("http://%s/v2/acme/app/manifests/%s", e.Registry, tag), bytes.NewReader([]byte(broken)))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	req.SetBasicAuth(auth.Username, auth.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("putting the broken cache: %s", resp.Status)
	}
}

// TestMaxImageSize: an image over the limit fails the run after the push
// check, with no requested tag attached and nothing left under the staging
// tag.
func TestMaxImageSize(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	r := github(t, workspace(t, "twostage"), e, map[string]string{"repository": "acme/app", "network": "none", "tags": "v1", "max-image-size": "1KB"})
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	if !strings.Contains(r.stdout, "::error::input max-image-size: the image is") || !strings.Contains(r.stdout, "no tag was attached") {
		t.Error("want an error naming max-image-size and saying no tag was attached")
	}
	for _, id := range listImages(t, e, "acme/app") {
		tag := aws.ToString(id.ImageTag)
		if tag == "v1" || strings.HasPrefix(tag, "msb-") {
			t.Errorf("the registry holds tag %s after a failed size check", tag)
		}
	}
}
