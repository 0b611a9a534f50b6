package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"

	"github.com/org/ms-build-action/internal/testenv"
)

// TestPullMovedBaseTag: a base image's tag moves in its registry while the
// runner keeps the old image. Without pull the runner's image is what the
// build would use, so the skip key holds and the run is skipped; with pull
// the run resolves the tag in the registry, builds, and the image is built
// on the new base.
//
// The base lives in a registry of its own that takes anonymous pulls (a
// plain go-containerregistry registry on loopback): the run pulls it as a
// public base image, with no login.
func TestPullMovedBaseTag(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	bases := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(bases.Close)
	host := strings.TrimPrefix(bases.URL, "http://")
	base := host + "/msb-pull/base:1"
	cleanupImages(t, docker, host+"/", e.Registry+"/", "ms-build/acme/pull:")

	v1img := busyboxImage(t)
	pushImage(t, base, v1img)
	// The runner pulled the base once, as a runner that built before has.
	pullImage(t, docker, base)

	dir := workspace(t, "twostage")
	write(t, dir, "Dockerfile", "FROM "+base+" AS build\nWORKDIR /src\nCOPY message.txt ./\nRUN mkdir -p /out && cp message.txt /out/message.txt\n\nFROM "+base+"\nCOPY --from=build /out/ /app/\n")
	inputs := map[string]string{"repository": "acme/pull", "network": "none", "tags": "one"}
	first := github(t, dir, e, inputs)
	if first.code != 0 {
		t.Fatalf("first run: exit code %d", first.code)
	}
	auth := login(t, e)
	if files := pushedFiles(t, auth, first.outputs["image-uri"]); !slices.Contains(files, "app/message.txt") || slices.Contains(files, "new.txt") {
		t.Errorf("first run's image holds %v: want app/message.txt and no new.txt", files)
	}

	// The tag moves to a new image: the old one plus a file.
	pushImage(t, base, withFile(t, v1img, "new.txt", "the base moved\n"))

	inputs["tags"] = "two"
	stale := github(t, dir, e, inputs)
	if stale.code != 0 {
		t.Fatalf("run without pull: exit code %d", stale.code)
	}
	// The engine builds FROM its own copy without pull, so an identical
	// image exists already: skipping is right, and the base did not move
	// for this runner.
	if got := stale.outputs["skipped"]; got != "true" || stale.outputs["digest"] != first.outputs["digest"] {
		t.Errorf("run without pull: skipped %s, digest %s; want true and the first run's %s", got, stale.outputs["digest"], first.outputs["digest"])
	}

	inputs["tags"], inputs["pull"] = "three", "true"
	pulled := github(t, dir, e, inputs)
	if pulled.code != 0 {
		t.Fatalf("run with pull: exit code %d", pulled.code)
	}
	if got := pulled.outputs["skipped"]; got != "false" {
		t.Errorf("run with pull: skipped = %s, want false: the tag moved in the registry", got)
	}
	if pulled.outputs["digest"] == first.outputs["digest"] {
		t.Error("run with pull: the digest did not change")
	}
	if files := pushedFiles(t, auth, pulled.outputs["image-uri"]); !slices.Contains(files, "new.txt") || !slices.Contains(files, "app/message.txt") {
		t.Errorf("run with pull: the image holds %v, want new.txt from the moved base and app/message.txt", files)
	}
}

// TestNoCacheRebuildsAndStoresNothing: with no-cache, a run with the same
// inputs as a recorded image is not skipped, runs every step (the engine's
// cache of the same steps is warm), and leaves the registry's caches and
// skip records as they were: only the requested tag is added.
func TestNoCacheRebuildsAndStoresNothing(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	cleanupImages(t, docker, e.Registry+"/", "ms-build/acme/nocache:")
	dir := workspace(t, "twostage")
	inputs := map[string]string{"repository": "acme/nocache", "network": "none", "tags": "one"}
	first := github(t, dir, e, inputs)
	if first.code != 0 {
		t.Fatalf("first run: exit code %d", first.code)
	}
	auth := login(t, e)
	repo := e.Registry + "/acme/nocache"
	before := registryTags(t, auth, repo)
	for _, want := range []string{"buildcache-" + first.outputs["cache-key"][:16], "buildcache-branch-main", "buildcache-runtime-main"} {
		if _, ok := before[want]; !ok {
			t.Fatalf("the first run left no %s: %v", want, before)
		}
	}

	inputs["tags"], inputs["no-cache"] = "two", "true"
	r := github(t, dir, e, inputs)
	if r.code != 0 {
		t.Fatalf("no-cache run: exit code %d", r.code)
	}
	if r.outputs["skipped"] != "false" || r.outputs["cache-hit"] != "false" || r.outputs["cache-key"] != "" {
		t.Errorf("no-cache run: skipped %s, cache-hit %s, cache-key %q; want false, false and none", r.outputs["skipped"], r.outputs["cache-hit"], r.outputs["cache-key"])
	}
	// BuildKit still reports the base image and WORKDIR as cached; every
	// RUN and COPY runs.
	if !strings.Contains(r.stdout, "DONE [build 4/6] RUN restore requirements.txt") || !strings.Contains(r.stdout, "DONE [build 6/6] RUN compile /out") || strings.Contains(r.stdout, "CACHED [build 3/6] COPY") {
		t.Error("no-cache run: the build stage's steps were taken from the engine's cache")
	}
	after := registryTags(t, auth, repo)
	for tag, d := range after {
		old, ok := before[tag]
		switch {
		case !ok && tag != "two":
			t.Errorf("no-cache run added tag %s", tag)
		case ok && old != d:
			t.Errorf("no-cache run moved tag %s", tag)
		}
	}
	if after["two"] != r.outputs["digest"] || r.outputs["digest"] == first.outputs["digest"] {
		t.Errorf("two at %s, digest output %s (first run's %s): want the new image", after["two"], r.outputs["digest"], first.outputs["digest"])
	}
	pullAndRun(t, docker, auth, r.outputs["image-uri"], "hello from the fixture (deps: left-pad newtonsoft-json )\n")
}

// registryTags maps each of a repository's tags to its digest.
func registryTags(t *testing.T, auth authn.Authenticator, repo string) map[string]string {
	t.Helper()
	opts := []remote.Option{remote.WithAuth(auth), remote.WithContext(t.Context())}
	tags, err := remote.List(ref(t, repo+":x").Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tag := range tags {
		desc, err := remote.Head(ref(t, repo+":"+tag), opts...)
		if err != nil {
			t.Fatal(err)
		}
		out[tag] = desc.Digest.String()
	}
	return out
}

// pushedFiles lists the files of a pushed image.
func pushedFiles(t *testing.T, auth authn.Authenticator, uri string) []string {
	t.Helper()
	img, err := remote.Image(ref(t, uri), remote.WithAuth(auth), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("reading %s: %v", uri, err)
	}
	return imageFiles(t, img)
}

// busyboxImage is a busybox userland made offline, as testenv's base
// images are, but as a registry image.
func busyboxImage(t *testing.T) v1.Image {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("reading /bin/busybox (install Debian's busybox-static): %v", err)
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		t.Fatalf("listing busybox applets: %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777},
		{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write(bb); err != nil {
		t.Fatal(err)
	}
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}, Config: v1.Config{Env: []string{"PATH=/bin"}}})
	if err != nil {
		t.Fatal(err)
	}
	return withLayer(t, img, buf.Bytes())
}

// withFile is img with one more layer holding a file.
func withFile(t *testing.T, img v1.Image, name, content string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tw, content); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return withLayer(t, img, buf.Bytes())
}

func withLayer(t *testing.T, img v1.Image, layer []byte) v1.Image {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer)), nil })
	if err != nil {
		t.Fatal(err)
	}
	out, err := mutate.AppendLayers(img, l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func pushImage(t *testing.T, s string, img v1.Image) {
	t.Helper()
	if err := remote.Write(ref(t, s), img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing %s: %v", s, err)
	}
}

// pullImage pulls a public image into the engine.
func pullImage(t *testing.T, docker *client.Client, s string) {
	t.Helper()
	rc, err := docker.ImagePull(t.Context(), s, client.ImagePullOptions{})
	if err != nil {
		t.Fatalf("pulling %s: %v", s, err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if bytes.Contains(b, []byte(`"errorDetail"`)) {
		t.Fatalf("pulling %s: %s", s, b)
	}
}

// cleanupImages removes, when the test ends, the engine's names that start
// with any of prefixes: the engine is shared.
func cleanupImages(t *testing.T, docker *client.Client, prefixes ...string) {
	t.Cleanup(func() {
		ctx := context.Background()
		imgs, err := docker.ImageList(ctx, client.ImageListOptions{})
		if err != nil {
			t.Logf("listing images: %v", err)
			return
		}
		for _, img := range imgs.Items {
			for _, tag := range img.RepoTags {
				for _, p := range prefixes {
					if strings.HasPrefix(tag, p) {
						docker.ImageRemove(ctx, tag, client.ImageRemoveOptions{})
					}
				}
			}
		}
	})
}
