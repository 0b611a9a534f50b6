package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Docker returns a client for the engine DOCKER_HOST names. Without a
// reachable engine the test is skipped with a message, unless
// MSB_REQUIRE_DOCKER=1, when it fails.
func Docker(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(client.FromEnv) // negotiates the API version
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = c.Ping(ctx, client.PingOptions{})
		cancel()
	}
	if err != nil {
		msg := "no Docker engine answers (" + err.Error() + "): start one with `eval \"$(scripts/engine up)\"`"
		if os.Getenv("MSB_REQUIRE_DOCKER") == "1" {
			t.Fatal(msg + " (MSB_REQUIRE_DOCKER=1)")
		}
		t.Skip(msg)
	}
	t.Cleanup(func() { c.Close() })
	holdEngine(t, c.DaemonHost())
	return c
}

var (
	engineOnce sync.Once
	engineLock *os.File // held until the test process exits
)

// holdEngine makes this test process the engine's only user among test
// processes: go test runs packages at once, and one package's FreshRunner
// (remove every image, prune the build cache) under another's build
// crashes Debian's dockerd 20.10 (a nil pointer in BuildKit's cache
// manager). The lock is a file lock: the kernel drops it when the process
// ends, however it ends.
func holdEngine(t testing.TB, host string) {
	engineOnce.Do(func() {
		sum := sha256.Sum256([]byte(host))
		path := filepath.Join(os.TempDir(), "msb-engine-"+hex.EncodeToString(sum[:8])+".lock")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Logf("not holding the engine (%v): test packages may share it", err)
			return
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			t.Logf("waiting for another test process to finish with the engine at %s", host)
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
				t.Logf("not holding the engine (%v): test packages may share it", err)
				return
			}
		}
		engineLock = f
	})
}

// Test base images, made offline from Debian's static busybox: no image can
// be pulled here.
const (
	// BusyboxImage is a busybox userland: the fixtures' runtime base.
	BusyboxImage = "msb-test/busybox:1"
	// SDKImage is BusyboxImage plus a fake SDK under /opt/sdk (a restore and a
	// compile script and a few MB of "toolchain"): the fixtures' build base.
	SDKImage = "msb-test/sdk:1"
	// SDKMarker is a file only the SDK image has.
	SDKMarker = "opt/sdk/lib/toolchain.bin"
)

var baseMu sync.Mutex

// BaseImages imports the test base images into the engine unless they are
// there already.
func BaseImages(t testing.TB, c *client.Client) {
	t.Helper()
	baseMu.Lock()
	defer baseMu.Unlock()
	ctx := context.Background()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("reading /bin/busybox (install Debian's busybox-static): %v", err)
	}
	applets, err := busyboxApplets()
	must(t, err)

	for _, img := range []struct {
		name string
		sdk  bool
	}{{BusyboxImage, false}, {SDKImage, true}} {
		if _, err := c.ImageInspect(ctx, img.name); err == nil {
			continue
		}
		rootfs, err := baseRootfs(bb, applets, img.sdk)
		must(t, err)
		rc, err := c.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(rootfs), SourceName: "-"}, img.name, client.ImageImportOptions{
			Changes: []string{"ENV " + basePath},
		})
		if err != nil {
			t.Fatalf("importing %s: %v", img.name, err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		must(t, err)
	}
}

// Run runs an image with no network and returns what it printed on stdout
// and its exit code; the container is removed.
func Run(t testing.TB, c *client.Client, ref string, cmd ...string) (string, int) {
	t.Helper()
	ctx := context.Background()
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: ref, Cmd: cmd},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		t.Fatalf("creating a container of %s: %v", ref, err)
	}
	defer c.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
	if _, err := c.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("starting a container of %s: %v", ref, err)
	}
	wait := c.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	var code int
	select {
	case w := <-wait.Result:
		code = int(w.StatusCode)
	case err := <-wait.Error:
		t.Fatalf("waiting for a container of %s: %v", ref, err)
	}
	logs, err := c.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatalf("reading the logs of a container of %s: %v", ref, err)
	}
	defer logs.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, io.Discard, logs); err != nil {
		t.Fatalf("reading the logs of a container of %s: %v", ref, err)
	}
	return out.String(), code
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FreshRunner makes the engine look like a new CI runner's: every image
// but the test base images is removed and the build cache is pruned.
func FreshRunner(t testing.TB, c *client.Client) {
	t.Helper()
	ctx := context.Background()
	imgs, err := c.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil {
		t.Fatalf("listing images: %v", err)
	}
	for _, img := range imgs.Items {
		base := false
		for _, tag := range img.RepoTags {
			base = base || tag == BusyboxImage || tag == SDKImage || strings.HasPrefix(tag, "msb-example/")
		}
		if base {
			// Keep the image, drop any other names it was given.
			for _, tag := range img.RepoTags {
				if tag != BusyboxImage && tag != SDKImage && !strings.HasPrefix(tag, "msb-example/") {
					c.ImageRemove(ctx, tag, client.ImageRemoveOptions{})
				}
			}
			continue
		}
		if _, err := c.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Fatalf("removing image %s: %v", img.ID, err)
		}
	}
	if _, err := c.BuildCachePrune(ctx, client.BuildCachePruneOptions{All: true}); err != nil {
		t.Fatalf("pruning the build cache: %v", err)
	}
}

// BuildCacheRecords counts the engine's build cache records.
//
// Records the engine holds in use are left out: Debian's dockerd 20.10
// keeps some of a cancelled build's records in use, where no prune can
// reach them, and they are no build of the test's.
func BuildCacheRecords(t testing.TB, c *client.Client) int {
	t.Helper()
	du, err := c.DiskUsage(context.Background(), client.DiskUsageOptions{BuildCache: true, Verbose: true})
	if err != nil {
		t.Fatalf("reading the engine's disk usage: %v", err)
	}
	n := 0
	for _, r := range du.BuildCache.Items {
		if !r.InUse {
			n++
		}
	}
	return n
}
