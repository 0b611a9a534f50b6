package testenv_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bkclient "github.com/moby/buildkit/client"
	"github.com/tonistiigi/fsutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/org/ms-build-action/internal/testenv"
)

func TestBuildKitAnswersOverMTLS(t *testing.T) {
	t.Parallel()
	start := time.Now()
	b := testenv.BuildKit(t)
	t.Logf("BuildKit(t) took %v", time.Since(start).Round(time.Millisecond))
	if !strings.HasPrefix(b.Addr, "tcp://127.0.0.1:") {
		t.Errorf("Addr = %q, want tcp://127.0.0.1:PORT", b.Addr)
	}
	ws, err := b.Client(t).ListWorkers(t.Context())
	if err != nil {
		t.Fatalf("ListWorkers with the files: %v", err)
	}
	if len(ws) != 1 || len(ws[0].Platforms) == 0 || ws[0].Platforms[0].OS != "linux" {
		t.Fatalf("workers = %+v, want one linux worker", ws)
	}

	// The PEM contents are the files' certificates: a client made from them
	// alone is let in.
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b.CA) {
		t.Fatal("CA holds no PEM certificate")
	}
	pair, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		t.Fatalf("Cert and Key: %v", err)
	}
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	c, err := bkclient.New(t.Context(), b.Addr, bkclient.WithGRPCDialOption(grpc.WithTransportCredentials(creds)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatalf("Info with the PEM contents: %v", err)
	}
	if !strings.HasPrefix(info.BuildkitVersion.Version, "v0.") {
		t.Errorf("BuildKit version = %q", info.BuildkitVersion.Version)
	}
}

func TestBuildKitRefusesClientsWithoutItsCA(t *testing.T) {
	t.Parallel()
	b := testenv.BuildKit(t)
	for _, tc := range []struct {
		name string
		opts []bkclient.ClientOpt
	}{
		{"no certificate", []bkclient.ClientOpt{bkclient.WithServerConfig("127.0.0.1", b.CAFile)}},
		{"certificate another CA signed", []bkclient.ClientOpt{bkclient.WithServerConfig("127.0.0.1", b.CAFile),
			bkclient.WithCredentials(b.UnsignedCertFile, b.UnsignedKeyFile)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := bkclient.New(t.Context(), b.Addr, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			if ws, err := c.ListWorkers(ctx); err == nil {
				t.Fatalf("ListWorkers answered %d workers; want a refusal", len(ws))
			} else {
				t.Logf("refused: %v", err)
			}
		})
	}
	// The daemon still serves its own clients.
	if _, err := b.Client(t).ListWorkers(t.Context()); err != nil {
		t.Fatalf("ListWorkers with the signed certificate: %v", err)
	}
}

func TestBuildKitListsArm64(t *testing.T) {
	t.Parallel()
	testenv.Arm64(t)
	b := testenv.BuildKit(t)
	ws, err := b.Client(t).ListWorkers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, p := range ws[0].Platforms {
		platforms = append(platforms, p.OS+"/"+p.Architecture)
	}
	if !slices.Contains(platforms, "linux/arm64") {
		t.Fatalf("platforms = %v, want linux/arm64 among them (QEMU is registered)", platforms)
	}
}

// TestBuildKitBuildsArm64ThroughTheMirror builds FROM BusyboxImage for
// linux/arm64: the base image comes from the mirror, the step runs under
// QEMU.
func TestBuildKitBuildsArm64ThroughTheMirror(t *testing.T) {
	t.Parallel()
	testenv.Arm64(t)
	b := testenv.BuildKit(t)
	out, _ := solve(t, b.Client(t), "FROM "+testenv.BusyboxImage+"\nRUN uname -m > /arch\n", "linux/arm64")
	if got := readFile(t, out, "arch"); got != "aarch64\n" {
		t.Fatalf("uname -m on linux/arm64 = %q, want aarch64", got)
	}
}

// TestBuildKitSDKImageHasBothPlatforms builds FROM SDKImage for both
// platforms in one solve: each platform's step runs on its own
// architecture, with the SDK there.
func TestBuildKitSDKImageHasBothPlatforms(t *testing.T) {
	t.Parallel()
	testenv.Arm64(t)
	b := testenv.BuildKit(t)
	df := "FROM " + testenv.SDKImage + " AS sdk\n" +
		"RUN uname -m > /arch && test -f /" + testenv.SDKMarker + " && command -v restore > /restore\n" +
		"FROM scratch\nCOPY --from=sdk /arch /restore /\n"
	out, _ := solve(t, b.Client(t), df, "linux/amd64,linux/arm64")
	for dir, arch := range map[string]string{"linux_amd64": "x86_64\n", "linux_arm64": "aarch64\n"} {
		if got := readFile(t, out, dir, "arch"); got != arch {
			t.Errorf("%s: uname -m = %q, want %q", dir, got, arch)
		}
		if got := readFile(t, out, dir, "restore"); got != "/opt/sdk/bin/restore\n" {
			t.Errorf("%s: restore is at %q, want /opt/sdk/bin/restore (the SDK image's PATH)", dir, got)
		}
	}
}

// TestBuildKitRestartEmptiesItsCache: a second build of the same step is
// cached; after Restart, as on a fresh runner, it runs again. After Stop
// the daemon answers no more.
func TestBuildKitRestartEmptiesItsCache(t *testing.T) {
	t.Parallel()
	b := testenv.BuildKit(t)
	df := "FROM " + testenv.BusyboxImage + "\nRUN echo built > /built\n"
	if _, cached := solve(t, b.Client(t), df, ""); cached {
		t.Fatal("the first build's RUN step was cached")
	}
	if _, cached := solve(t, b.Client(t), df, ""); !cached {
		t.Fatal("the second build's RUN step was not cached")
	}
	start := time.Now()
	b.Restart(t)
	t.Logf("Restart took %v", time.Since(start).Round(time.Millisecond))
	out, cached := solve(t, b.Client(t), df, "")
	if cached {
		t.Fatal("after Restart the RUN step was cached")
	}
	if got := readFile(t, out, "built"); got != "built\n" {
		t.Fatalf("/built = %q", got)
	}
	b.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := b.Client(t).ListWorkers(ctx); err == nil {
		t.Fatal("ListWorkers answered after Stop")
	}
}

// solve builds dockerfile (the whole context) for platform (the daemon's
// own when empty) and exports the result to a directory it returns, with
// whether every RUN step was cached.
func solve(t *testing.T, c *bkclient.Client, dockerfile, platform string) (string, bool) {
	t.Helper()
	ctxDir, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := fsutil.NewFS(ctxDir)
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{"filename": "Dockerfile"}
	if platform != "" {
		attrs["platform"] = platform
	}
	ch := make(chan *bkclient.SolveStatus)
	runs := map[string]bool{} // RUN vertex -> cached
	done := make(chan struct{})
	go func() {
		defer close(done)
		for st := range ch {
			for _, v := range st.Vertexes {
				if strings.Contains(v.Name, " RUN ") && v.Completed != nil {
					runs[v.Digest.String()] = v.Cached
				}
			}
		}
	}()
	_, err = c.Solve(t.Context(), nil, bkclient.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": fs, "dockerfile": fs},
		Exports:       []bkclient.ExportEntry{{Type: bkclient.ExporterLocal, OutputDir: out}},
	}, ch)
	<-done
	if err != nil {
		t.Fatalf("solve: %v", err)
	}
	if len(runs) == 0 {
		t.Fatal("the solve reported no RUN step")
	}
	cached := true
	for _, c := range runs {
		cached = cached && c
	}
	return out, cached
}

func readFile(t *testing.T, elem ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
