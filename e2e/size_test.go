package e2e

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/org/ms-build-action/internal/testenv"
)

// sizeDockerfile is a two-stage Dockerfile; grown adds a layer to its
// runtime stage: a file of 256 kB that does not compress.
const sizeDockerfile = "FROM " + testenv.SDKImage + " AS build\nCOPY app.txt /out/app.txt\n\nFROM " + testenv.BusyboxImage + "\nCOPY --from=build /out/ /app/\n"

// TestSizeAgainstTheDefaultBranch is point 7 of issue 12 as users meet it:
// the default branch builds from a fresh git clone; a pull request whose
// Dockerfile adds a layer reports the size change and the added layer
// against the default branch's image, in its outputs and its summary; with
// max-image-growth it fails with one line and attaches no tag.
func TestSizeAgainstTheDefaultBranch(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	const repo = "acme/size"
	dir := gitClone(t, map[string]string{"Dockerfile": sizeDockerfile, "app.txt": "hello\n"})
	inputs := func(tags string, more ...string) map[string]string {
		in := map[string]string{"repository": repo, "network": "none", "tags": tags}
		for i := 0; i+1 < len(more); i += 2 {
			in[more[i]] = more[i+1]
		}
		return in
	}
	pr := []string{"GITHUB_EVENT_NAME=pull_request", "GITHUB_REF=refs/pull/12/merge", "GITHUB_REF_NAME=12/merge",
		"GITHUB_REF_TYPE=", "GITHUB_HEAD_REF=grow", "GITHUB_BASE_REF=main"}

	testenv.FreshRunner(t, docker)
	main := github(t, dir, e, inputs("main-1,latest"), "GITHUB_EVENT_NAME=push", "GITHUB_REF_PROTECTED=true")
	if main.code != 0 {
		t.Fatalf("default branch: exit code %d", main.code)
	}
	if got := main.outputs["image-size-delta-bytes"]; got != "" {
		t.Errorf("the repository's first image: image-size-delta-bytes = %q, want empty", got)
	}

	// The pull request adds a layer of 256 kB that does not compress.
	noise := make([]byte, 256<<10)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(noise)
	if err := os.WriteFile(filepath.Join(dir, "blob.bin"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "Dockerfile", sizeDockerfile+"COPY blob.bin /blob.bin\n")
	testenv.FreshRunner(t, docker)
	grown := github(t, dir, e, inputs("pr-12"), pr...)
	if grown.code != 0 {
		t.Fatalf("pull request: exit code %d", grown.code)
	}
	t.Logf("the pull request's summary:\n%s", grown.summary)
	delta, err := strconv.ParseInt(grown.outputs["image-size-delta-bytes"], 10, 64)
	if err != nil || delta < 256<<10 || delta > 300<<10 {
		t.Errorf("image-size-delta-bytes = %q, want about 256 kB", grown.outputs["image-size-delta-bytes"])
	}
	size, _ := strconv.ParseInt(grown.outputs["image-size-bytes"], 10, 64)
	mainSize, _ := strconv.ParseInt(main.outputs["image-size-bytes"], 10, 64)
	if size-mainSize != delta {
		t.Errorf("delta %d, want the sizes' difference %d - %d", delta, size, mainSize)
	}
	var meta map[string]any
	if err := json.Unmarshal([]byte(grown.outputs["metadata"]), &meta); err != nil || meta["image-size-delta-bytes"] != float64(delta) {
		t.Errorf("metadata's image-size-delta-bytes = %v (%v), want %d", meta["image-size-delta-bytes"], err, delta)
	}
	for _, want := range []string{"**Size against the default branch**", main.outputs["digest"], "added: COPY blob.bin /blob.bin", "```mermaid\nxychart-beta"} {
		if !strings.Contains(grown.summary, want) {
			t.Errorf("the summary lacks %q:\n%s", want, grown.summary)
		}
	}

	// The same pull request with a growth limit: one line, exit 1, no tag.
	limited := github(t, dir, e, inputs("pr-12-limited", "max-image-growth", "10%"), pr...)
	if limited.code != 1 {
		t.Errorf("with max-image-growth: exit code %d, want 1", limited.code)
	}
	var errs []string
	for l := range strings.Lines(limited.stdout) {
		if strings.HasPrefix(l, "::error") {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "::error::input max-image-growth: the image grew by") ||
		!strings.Contains(errs[0], main.outputs["digest"]) || !strings.Contains(errs[0], "no tag was attached") {
		t.Errorf("with max-image-growth: errors %q, want one line naming the input, the sizes and the default branch's image", errs)
	}
	for _, id := range listImages(t, e, repo) {
		tag := aws.ToString(id.ImageTag)
		if tag == "pr-12-limited" || strings.HasPrefix(tag, "msb-staging-") {
			t.Errorf("the registry holds %s after the failed growth check", tag)
		}
	}
}
