package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/ms-build-action/internal/testenv"
)

// archDockerfile records the architecture its build stage ran on, and its
// image prints that and its own when run.
const archDockerfile = `FROM msb-test/sdk:1 AS build
WORKDIR /src
COPY requirements.txt ./
RUN restore requirements.txt
COPY . .
RUN uname -m > /arch.txt
FROM msb-test/busybox:1
COPY --from=build /arch.txt /arch.txt
CMD ["sh", "-c", "cat /arch.txt; uname -m"]
`

// TestTwoPlatforms: one run on a BuildKit builder builds linux/amd64 and
// linux/arm64 (under QEMU) and pushes one index of two images, no
// attestation; each image runs and prints its architecture, metadata gives
// each platform's digest and size, and a second run of the same commit
// skips with the same platforms. max-image-size applies to each platform,
// before any tag.
func TestTwoPlatforms(t *testing.T) {
	docker := testenv.Docker(t)
	d := testenv.BuildKit(t)
	testenv.Arm64(t)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := workspace(t, "twostage")
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(archDockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	in := withInputs(bkInputs(d), map[string]string{"repository": "acme/app", "tags": "v1", "platforms": "linux/amd64,linux/arm64"})
	r := github(t, dir, e, in, noEngine)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0", r.code)
	}
	assertNoSecret(t, r, string(d.Key))
	o := r.outputs
	auth := login(t, e)
	desc, err := remote.Get(ref(t, e.Registry+"/acme/app:v1"), remote.WithAuth(auth))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != o["digest"] || !desc.MediaType.IsIndex() {
		t.Fatalf("v1 is %s (%s), want the index the outputs name, %s", desc.Digest, desc.MediaType, o["digest"])
	}
	ix, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := ix.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var meta mergeMeta
	if err := json.Unmarshal([]byte(o["metadata"]), &meta); err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 || len(meta.Platforms) != 2 {
		t.Fatalf("index of %d images, metadata of %d platforms; want 2 and 2 (no attestation)", len(im.Manifests), len(meta.Platforms))
	}
	want := map[string]string{"linux/amd64": "x86_64\nx86_64\n", "linux/arm64": "aarch64\naarch64\n"}
	for _, m := range im.Manifests {
		pl := m.Platform.OS + "/" + m.Platform.Architecture
		i := slices.IndexFunc(meta.Platforms, func(p struct {
			Platform  string `json:"platform"`
			Digest    string `json:"digest"`
			SizeBytes int64  `json:"size-bytes"`
		}) bool {
			return p.Digest == m.Digest.String()
		})
		if i < 0 || !strings.HasPrefix(meta.Platforms[i].Platform, pl) || meta.Platforms[i].SizeBytes <= 0 {
			t.Errorf("index image %s (%s): metadata platforms %+v, want it with its platform and size", m.Digest, pl, meta.Platforms)
		}
		pullAndRun(t, docker, auth, e.Registry+"/acme/app@"+m.Digest.String(), want[pl])
	}

	again := github(t, dir, e, in, noEngine)
	if again.code != 0 || again.outputs["skipped"] != "true" || again.outputs["digest"] != o["digest"] {
		t.Errorf("second run: exit %d, skipped %q, digest %q; want a skip of %s", again.code, again.outputs["skipped"], again.outputs["digest"], o["digest"])
	}
	var meta2 mergeMeta
	if err := json.Unmarshal([]byte(again.outputs["metadata"]), &meta2); err != nil || len(meta2.Platforms) != 2 {
		t.Errorf("the skip's metadata = %s, want both platforms", again.outputs["metadata"])
	}

	// Each platform's build stage was cached under its own key: a run of
	// arm64 alone, after a source-only change, starts from it, as does a
	// run of both platforms.
	if err := os.WriteFile(filepath.Join(dir, "message.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, platforms := range []string{"linux/arm64", "linux/amd64,linux/arm64"} {
		one := withInputs(bkInputs(d), map[string]string{"repository": "acme/app", "tags": "p-" + strings.ReplaceAll(platforms, "/", "-"), "platforms": platforms})
		rr := github(t, dir, e, one, noEngine)
		if rr.code != 0 || rr.outputs["cache-hit"] != "true" {
			t.Errorf("platforms %s after a source change: exit %d, cache-hit %q; want a hit of each platform's cache", platforms, rr.code, rr.outputs["cache-hit"])
		}
	}

	// Over the limit: one line naming a platform, and no tag attached.
	in["tags"], in["max-image-size"], in["cache-salt"] = "v2", "1KB", "rebuild"
	big := github(t, dir, e, in, noEngine)
	if big.code != 1 || !strings.Contains(big.stdout, "input max-image-size: the linux/") {
		t.Errorf("over max-image-size: exit %d, want 1 and an error naming a platform", big.code)
	}
	if _, err := remote.Head(ref(t, e.Registry+"/acme/app:v2"), remote.WithAuth(auth)); err == nil {
		t.Error("v2 was attached to an image over max-image-size")
	}
}

// TestEnginePlatform: with the Docker engine, platforms names the one
// platform to build, another architecture under QEMU: the image pushed is
// an arm64 image whose steps ran as arm64.
func TestEnginePlatform(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	testenv.Arm64Base(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := workspace(t, "twostage")
	df := "FROM " + testenv.Arm64BusyboxImage + " AS build\nCOPY requirements.txt /\nRUN uname -m > /arch.txt\nFROM " + testenv.Arm64BusyboxImage + "\nCOPY --from=build /arch.txt /arch.txt\nCMD [\"sh\", \"-c\", \"cat /arch.txt; uname -m\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	r := github(t, dir, e, map[string]string{"repository": "acme/arm", "tags": "v1", "network": "none", "platforms": "linux/arm64"})
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0", r.code)
	}
	auth := login(t, e)
	img, err := remote.Image(ref(t, e.Registry+"/acme/arm:v1"), remote.WithAuth(auth))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil || cf.Architecture != "arm64" {
		t.Fatalf("the pushed image's architecture = %v (%v), want arm64", cf, err)
	}
	if got := testenv.ImageFile(t, img, "arch.txt"); got != "aarch64\n" {
		t.Errorf("/arch.txt = %q, want aarch64: the build stage's RUN ran as arm64", got)
	}
}
