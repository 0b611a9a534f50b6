package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/moby/client"

	"github.com/org/ms-build-action/internal/testenv/buildkitd"
)

// BuildKitd is a standalone buildkitd that one test started
// (buildkitd.Daemon: BuildKit's daemon built by scripts/buildkit at
// go.mod's version, its OCI worker on Debian's runc, a loopback TCP port
// with mutual TLS, its own root), resolving docker.io (and
// mcr.microsoft.com) images through Mirror, a registry in the test process
// that holds BusyboxImage and SDKImage for linux/amd64 and, when
// MSB_BUSYBOX_ARM64 names Debian's arm64 busybox, linux/arm64. Its address
// and certificates are the Daemon's fields.
type BuildKitd struct {
	*buildkitd.Daemon
	// Mirror is the host:port of the registry the daemon pulls docker.io's
	// and mcr.microsoft.com's images from (plain HTTP); a test may push its
	// own images there. Its tags are the test's own; its blobs are in a
	// store all mirrors of the process share (content-addressed, so no test
	// sees another's images, but a blob one test pushed exists in all).
	Mirror string
}

// BuildKit starts a buildkitd for the test, answering before it returns,
// and stops it when the test ends; on failure the test shows its logs.
// httpRegistries are further registries (host:port) the daemon reaches
// over plain HTTP. Without buildkitd (of go.mod's version), runc or root
// the test is skipped with a message, unless MSB_REQUIRE_BUILDKIT=1, when
// it fails.
func BuildKit(t testing.TB, httpRegistries ...string) *BuildKitd {
	t.Helper()
	buildkitdBinary(t)
	began := time.Now()
	b := &BuildKitd{}
	b.startMirror(t)
	d, err := buildkitd.Start(t.Context(), buildkitd.Config{Mirror: b.Mirror, HTTPRegistries: httpRegistries})
	if err != nil {
		t.Fatal(err)
	}
	b.Daemon = d
	t.Cleanup(func() {
		if t.Failed() {
			b.showLogs(t)
		}
		d.Close()
	})
	t.Logf("buildkitd answers at %s (mirror %s), started in %v", b.Addr, b.Mirror, time.Since(began).Round(time.Millisecond))
	return b
}

// Client returns a client of the daemon with the signed client certificate;
// it is closed when the test ends.
func (b *BuildKitd) Client(t testing.TB) *bkclient.Client {
	t.Helper()
	c, err := b.Daemon.Client(context.Background())
	if err != nil {
		t.Fatalf("buildkit client for %s: %v", b.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Restart stops the daemon and starts it again at the same address with an
// empty root: a fresh runner's builder, with nothing cached.
func (b *BuildKitd) Restart(t testing.TB) {
	t.Helper()
	if err := b.Daemon.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// showLogs logs the end of each run's log.
func (b *BuildKitd) showLogs(t testing.TB) {
	for _, l := range b.Logs() {
		data, err := os.ReadFile(l)
		if err != nil {
			t.Logf("buildkitd log %s: %v", l, err)
			continue
		}
		const keep = 64 << 10
		if len(data) > keep {
			data = append([]byte("...\n"), data[len(data)-keep:]...)
		}
		t.Logf("buildkitd log (%s):\n%s", filepath.Base(l), data)
	}
}

// mirrorBlobs holds the blobs of every test's mirror: after the first, a
// mirror's base images upload only their manifests.
var mirrorBlobs = ggcrregistry.NewInMemoryBlobHandler()

// startMirror serves a registry on 127.0.0.1 for the test and pushes the
// base images to it. Its manifests and tags are the test's own; its blobs
// are shared with the process's other mirrors.
func (b *BuildKitd) startMirror(t testing.TB) {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)),
		ggcrregistry.WithBlobHandler(mirrorBlobs)))
	t.Cleanup(srv.Close)
	b.Mirror = strings.TrimPrefix(srv.URL, "http://")
	pushBaseIndexes(t, b.Mirror)
}

// buildkitdBinary is the buildkitd to run, or the test is skipped (failed
// with MSB_REQUIRE_BUILDKIT=1) with what is missing.
func buildkitdBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildkitd.Binary()
	if err != nil {
		msg := err.Error() + ": run `eval \"$(scripts/buildkit)\"` as root"
		if os.Getenv("MSB_REQUIRE_BUILDKIT") == "1" {
			t.Fatal(msg + " (MSB_REQUIRE_BUILDKIT=1)")
		}
		t.Skip(msg)
	}
	return bin
}

// Arm64 skips the test (fails it with MSB_REQUIRE_BUILDKIT=1) unless arm64
// steps can run here: qemu-aarch64 registered in binfmt_misc with the F
// flag, and the arm64 base images' busybox at MSB_BUSYBOX_ARM64.
func Arm64(t testing.TB) {
	t.Helper()
	var missing string
	reg, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-aarch64")
	switch {
	case err != nil || !strings.HasPrefix(string(reg), "enabled\n"):
		missing = "qemu-aarch64 is not registered in binfmt_misc"
	case !binfmtFixBinary(string(reg)):
		missing = "qemu-aarch64 is registered without the F flag"
	case os.Getenv("MSB_BUSYBOX_ARM64") == "":
		missing = "MSB_BUSYBOX_ARM64 names no arm64 busybox"
	}
	if missing == "" {
		return
	}
	msg := missing + ": run `eval \"$(scripts/buildkit)\"` as root"
	if os.Getenv("MSB_REQUIRE_BUILDKIT") == "1" {
		t.Fatal(msg + " (MSB_REQUIRE_BUILDKIT=1)")
	}
	t.Skip(msg)
}

// binfmtFixBinary tells whether a binfmt_misc entry has the F flag.
func binfmtFixBinary(entry string) bool {
	for _, l := range strings.Split(entry, "\n") {
		if flags, ok := strings.CutPrefix(l, "flags: "); ok {
			return strings.Contains(flags, "F")
		}
	}
	return false
}

// pushBaseIndexes pushes BusyboxImage and SDKImage to the registry at host,
// each an index of linux/amd64 and, with MSB_BUSYBOX_ARM64, linux/arm64.
func pushBaseIndexes(t testing.TB, host string) {
	t.Helper()
	idx, err := baseIndexes()
	if err != nil {
		t.Fatalf("making the base images: %v", err)
	}
	for img, ii := range idx {
		ref, err := name.ParseReference(host + "/" + img)
		must(t, err)
		if err := remote.WriteIndex(ref, ii, remote.WithContext(t.Context())); err != nil {
			t.Fatalf("pushing %s to the mirror: %v", img, err)
		}
	}
}

// baseIndexes are BusyboxImage and SDKImage as indexes: linux/amd64 with
// /bin/busybox and, when MSB_BUSYBOX_ARM64 names one, linux/arm64 with that
// busybox. Made once per process.
var baseIndexes = sync.OnceValues(func() (map[string]v1.ImageIndex, error) {
	applets, err := busyboxApplets()
	if err != nil {
		return nil, err
	}
	arches := []string{runtime.GOARCH}
	busyboxes := map[string]string{runtime.GOARCH: "/bin/busybox"}
	if p := os.Getenv("MSB_BUSYBOX_ARM64"); p != "" && runtime.GOARCH != "arm64" {
		arches = append(arches, "arm64")
		busyboxes["arm64"] = p
	}
	out := map[string]v1.ImageIndex{}
	for _, img := range []struct {
		name string
		sdk  bool
	}{{BusyboxImage, false}, {SDKImage, true}} {
		idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		for _, arch := range arches {
			bb, err := os.ReadFile(busyboxes[arch])
			if err != nil {
				return nil, fmt.Errorf("reading the %s busybox: %w", arch, err)
			}
			im, err := baseImage(bb, applets, img.sdk, arch)
			if err != nil {
				return nil, err
			}
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: im, Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: "linux", Architecture: arch},
			}})
		}
		out[img.name] = idx
	}
	return out, nil
})

// baseImage is one platform's image of a test base image: its root file
// system as one layer, as the engine's import makes it, and its PATH.
func baseImage(bb []byte, applets []string, sdk bool, arch string) (v1.Image, error) {
	rootfs, err := baseRootfs(bb, applets, sdk)
	if err != nil {
		return nil, err
	}
	// Uncompressed: gzip under -race takes seconds, and the bytes only
	// cross the loopback.
	layer := static.NewLayer(rootfs, types.OCIUncompressedLayer)
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config.Env = "linux", arch, []string{basePath}
	return mutate.ConfigFile(img, cf)
}

// Arm64BusyboxImage is BusyboxImage's arm64 image, in the engine's store.
const Arm64BusyboxImage = "msb-test/busybox-arm64:1"

// Arm64Base loads Arm64BusyboxImage into the engine (docker load of an
// image whose config says linux/arm64: docker import records the engine's
// own platform), after Arm64's checks.
func Arm64Base(t testing.TB, c *client.Client) {
	t.Helper()
	Arm64(t)
	bb, err := os.ReadFile(os.Getenv("MSB_BUSYBOX_ARM64"))
	must(t, err)
	applets, err := busyboxApplets()
	must(t, err)
	img, err := baseImage(bb, applets, false, "arm64")
	must(t, err)
	tag, err := name.NewTag(Arm64BusyboxImage)
	must(t, err)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarball.Write(tag, img, pw)) }()
	res, err := c.ImageLoad(context.Background(), pr)
	must(t, err)
	defer res.Close()
	out, err := io.ReadAll(res)
	must(t, err)
	if bytes.Contains(out, []byte(`"error`)) {
		t.Fatalf("loading %s: %s", Arm64BusyboxImage, out)
	}
}
