package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/ms-build-action/internal/ociregistry"
	"github.com/org/ms-build-action/internal/testenv"
)

// pushArm64 pushes, as another runner's run would have, an arm64 image to
// repo: the image at from with a config that says arm64 (its layers are
// in the repository already). It returns the new image's digest.
func pushArm64(t *testing.T, from, to string, opts ...remote.Option) string {
	t.Helper()
	img, err := remote.Image(ref(t, from), opts...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.Variant = "arm64", "v8"
	arm, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, to), arm, opts...); err != nil {
		t.Fatal(err)
	}
	d, err := arm.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// mergeMeta is what metadata says of a merge's platforms.
type mergeMeta struct {
	Digest    string `json:"digest"`
	Platforms []struct {
		Platform  string `json:"platform"`
		Digest    string `json:"digest"`
		SizeBytes int64  `json:"size-bytes"`
	} `json:"platforms"`
}

// TestMergeNativeRunners: a run pushes the amd64 image, another runner's
// run the arm64 one; a merge run publishes them as one index under the
// requested tags, through the real AWS SDK and the ECR endpoint, uploading
// no blob. A merge given a missing digest, or two amd64 images, fails with
// one line naming images and attaches no tag.
func TestMergeNativeRunners(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	for _, backend := range []testenv.Backend{testenv.GGCR, testenv.DistributionV3} {
		t.Run(string(backend), func(t *testing.T) { testMergeNativeRunners(t, backend) })
	}
}

func testMergeNativeRunners(t *testing.T, backend testenv.Backend) {
	var uploads blobUploads
	e := testenv.StartECR(t, backend, testenv.Options{WrapRegistry: uploads.wrap})
	repo := e.Registry + "/acme/app"

	amd := github(t, workspace(t, "twostage"), e, map[string]string{"repository": "acme/app", "network": "none", "tags": "sha-4f2b9b6-amd64"})
	if amd.code != 0 {
		t.Fatalf("the amd64 run: exit code %d", amd.code)
	}
	opts := []remote.Option{remote.WithAuth(login(t, e)), remote.WithContext(t.Context())}
	armDigest := pushArm64(t, amd.outputs["image-uri"], repo+":sha-4f2b9b6-arm64", opts...)
	uploads.n.Store(0)

	merged := github(t, t.TempDir(), e, map[string]string{"repository": "acme/app", "tags": "1.0.0\nlatest",
		"images": amd.outputs["digest"] + "\n" + repo + "@" + armDigest + "\n"})
	if merged.code != 0 {
		t.Fatalf("the merge: exit code %d", merged.code)
	}
	if n := uploads.n.Load(); n != 0 {
		t.Errorf("the merge made %d blob upload requests, want none", n)
	}
	o := merged.outputs
	if got, want := o["image-uri"], repo+"@"+o["digest"]; got != want {
		t.Errorf("image-uri = %q, want %q", got, want)
	}
	if diff := cmp.Diff([]string{repo + ":1.0.0", repo + ":latest"}, strings.Split(o["tags"], "\n")); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	idx, err := remote.Index(ref(t, o["image-uri"]), opts...)
	if err != nil {
		t.Fatalf("reading the index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.DockerManifestList {
		t.Errorf("index media type %q, want %q (the engine pushes Docker manifests)", im.MediaType, types.DockerManifestList)
	}
	var got []string
	for _, m := range im.Manifests {
		got = append(got, m.Platform.String()+" "+m.Digest.String()+" "+string(m.MediaType))
	}
	want := []string{"linux/amd64 " + amd.outputs["digest"] + " " + string(types.DockerManifestSchema2), "linux/arm64/v8 " + armDigest + " " + string(types.DockerManifestSchema2)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the index's images (-want +got):\n%s", diff)
	}
	for _, tag := range []string{"1.0.0", "latest"} {
		desc, err := remote.Head(ref(t, repo+":"+tag), opts...)
		if err != nil || desc.Digest.String() != o["digest"] {
			t.Errorf("tag %s: %v, %v; want the index %s", tag, desc, err, o["digest"])
		}
	}
	var meta mergeMeta
	if err := json.Unmarshal([]byte(o["metadata"]), &meta); err != nil || meta.Digest != o["digest"] || len(meta.Platforms) != 2 ||
		meta.Platforms[0].Platform != "linux/amd64" || meta.Platforms[0].Digest != amd.outputs["digest"] || meta.Platforms[0].SizeBytes != atoi(t, amd.outputs["image-size-bytes"]) ||
		meta.Platforms[1].Platform != "linux/arm64/v8" || meta.Platforms[1].Digest != armDigest {
		t.Errorf("metadata = %s (%v), want the index's digest and both platforms", o["metadata"], err)
	}
	if !strings.Contains(merged.summary, "| linux/arm64/v8 | `"+armDigest+"` |") {
		t.Errorf("the summary lacks the platforms' table:\n%s", merged.summary)
	}
	assertNoStaging(t, repo, opts)

	// A second amd64 image, of another run.
	dir := workspace(t, "twostage")
	write(t, dir, "message.txt", "another build\n")
	other := github(t, dir, e, map[string]string{"repository": "acme/app", "network": "none", "tags": "other-amd64"})
	if other.code != 0 {
		t.Fatalf("the second amd64 run: exit code %d", other.code)
	}
	h := sha256.Sum256([]byte("never pushed"))
	missing := "sha256:" + hex.EncodeToString(h[:])
	for _, tc := range []struct{ name, images, says string }{
		{"missing digest", amd.outputs["digest"] + "," + missing, "input images: " + missing + " is not in " + repo + ": the run that built that platform should have pushed it there"},
		{"two amd64 images", amd.outputs["digest"] + "," + other.outputs["digest"], "are both linux/amd64 images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := github(t, t.TempDir(), e, map[string]string{"repository": "acme/app", "tags": "refused", "images": tc.images})
			if r.code != 1 {
				t.Errorf("exit code %d, want 1", r.code)
			}
			errs := regexp.MustCompile(`(?m)^::error.*$`).FindAllString(r.stdout, -1)
			if len(errs) != 1 || !strings.Contains(errs[0], tc.says) {
				t.Errorf("error lines %q, want one saying %q", errs, tc.says)
			}
			if _, err := remote.Head(ref(t, repo+":refused"), opts...); err == nil {
				t.Error("the failed merge attached its tag")
			}
			if len(r.outputs) != 0 {
				t.Errorf("outputs of a failed merge: %v", r.outputs)
			}
			assertNoStaging(t, repo, opts)
		})
	}
}

// assertNoStaging fails when a staging tag is left in repo.
func assertNoStaging(t *testing.T, repo string, opts []remote.Option) {
	t.Helper()
	tags, err := remote.List(ref(t, repo+":x").Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(tags, func(s string) bool { return strings.HasPrefix(s, "msb-staging-") }); i >= 0 {
		t.Errorf("staging tag %s left behind", tags[i])
	}
}

// TestMergeDryRun: the command line's merge word, on the dry run's
// registry, which keeps what earlier dry runs pushed.
func TestMergeDryRun(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	store := filepath.Join(t.TempDir(), "registry")
	env := []string{"MSB_DRY_RUN_DIR=" + store}
	amd := runBinary(t, workspace(t, "twostage"), env, "--dry-run", "--network=none", "--tags=amd64")
	if amd.code != 0 {
		t.Fatalf("the amd64 dry run: exit code %d", amd.code)
	}
	amdURI := strings.TrimSpace(amd.stdout)
	_, amdDigest, _ := strings.Cut(amdURI, "@")

	// The arm64 image, pushed to the same store while no run holds it.
	local, err := ociregistry.Start(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	host := local.Host()
	from := strings.Replace(amdURI, hostOf(amdURI), host, 1)
	armDigest := pushArm64(t, from, host+"/ms-build/dry-run:arm64", remote.WithAuth(authn.Anonymous))
	local.Close()

	r := runBinary(t, t.TempDir(), env, "merge", "--dry-run", "--tags=multi", "--images="+amdDigest+","+armDigest)
	if r.code != 0 {
		t.Fatalf("the merge: exit code %d", r.code)
	}
	m := regexp.MustCompile(`^127\.0\.0\.1:[0-9]+/ms-build/dry-run@(sha256:[0-9a-f]{64})\n$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout = %q, want the index's reference alone", r.stdout)
	}
	for _, want := range []string{"Platforms\n  linux/amd64      " + amdDigest, "  linux/arm64/v8   " + armDigest, "Tagged 127.0.0.1:"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(r.logs(), "Building") {
		t.Error("the merge built")
	}
}

func hostOf(ref string) string {
	h, _, _ := strings.Cut(ref, "/")
	return h
}
