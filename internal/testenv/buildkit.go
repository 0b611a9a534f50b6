package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	bkclient "github.com/moby/buildkit/client"
)

// BuildKitd is a standalone buildkitd that one test started: BuildKit's
// daemon (built by scripts/buildkit at go.mod's version) with its OCI worker
// on Debian's runc, listening on a loopback TCP port with mutual TLS, with
// its own root, and resolving docker.io (and mcr.microsoft.com) images
// through Mirror, a registry in the test process that holds BusyboxImage
// and SDKImage for linux/amd64 and, when MSB_BUSYBOX_ARM64 names Debian's
// arm64 busybox, linux/arm64.
type BuildKitd struct {
	// Addr is the daemon's address: tcp://127.0.0.1:PORT.
	Addr string
	// CAFile, CertFile and KeyFile are the paths of the CA certificate that
	// signed the daemon's and the client's certificates, and of the client's
	// certificate and key; CA, Cert and Key are their PEM contents.
	CAFile, CertFile, KeyFile string
	CA, Cert, Key             []byte
	// UnsignedCertFile and UnsignedKeyFile are a client certificate and key
	// that another CA signed: the daemon refuses them. UnsignedCert and
	// UnsignedKey are their PEM contents.
	UnsignedCertFile, UnsignedKeyFile string
	UnsignedCert, UnsignedKey         []byte
	// Mirror is the host:port of the registry the daemon pulls docker.io's
	// and mcr.microsoft.com's images from (plain HTTP); a test may push its
	// own images there. Its tags are the test's own; its blobs are in a
	// store all mirrors of the process share (content-addressed, so no test
	// sees another's images, but a blob one test pushed exists in all).
	Mirror string

	bin, dir, config     string
	serverCrt, serverKey string
	mu                   sync.Mutex
	proc                 *bkProc
	starts               int
	logs                 []string
}

// bkProc is one run of buildkitd.
type bkProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  string
	root string
}

// BuildKit starts a buildkitd for the test, answering before it returns,
// and stops it when the test ends; on failure the test shows its logs.
// httpRegistries are further registries (host:port) the daemon reaches
// over plain HTTP. Without buildkitd (of go.mod's version), runc or root
// the test is skipped with a message, unless MSB_REQUIRE_BUILDKIT=1, when
// it fails.
func BuildKit(t testing.TB, httpRegistries ...string) *BuildKitd {
	t.Helper()
	bin := buildkitdBinary(t)
	began := time.Now()
	// Not t.TempDir: its path holds the test's name, and a socket's path is
	// at most 107 bytes.
	dir, err := os.MkdirTemp("", "msb-bk-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	b := &BuildKitd{bin: bin, dir: dir}
	b.makeCerts(t, t.TempDir())
	b.startMirror(t)
	b.config = filepath.Join(dir, "buildkitd.toml")
	must(t, os.WriteFile(b.config, []byte(buildkitdConfig(b.Mirror, httpRegistries)), 0o644))
	t.Cleanup(func() {
		if t.Failed() {
			b.showLogs(t)
		}
	})
	t.Cleanup(b.Stop)
	b.start(t, true)
	t.Logf("buildkitd answers at %s (mirror %s), started in %v", b.Addr, b.Mirror, time.Since(began).Round(time.Millisecond))
	return b
}

// Client returns a client of the daemon with the signed client certificate;
// it is closed when the test ends.
func (b *BuildKitd) Client(t testing.TB) *bkclient.Client {
	t.Helper()
	c, err := bkclient.New(context.Background(), b.Addr,
		bkclient.WithServerConfig("127.0.0.1", b.CAFile), bkclient.WithCredentials(b.CertFile, b.KeyFile))
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
	b.mu.Lock()
	p := b.proc
	b.mu.Unlock()
	b.Stop()
	if p != nil {
		if err := os.RemoveAll(p.root); err != nil {
			t.Logf("removing the previous buildkitd root: %v", err)
		}
	}
	b.start(t, false)
}

// Stop stops the daemon (and the steps it runs): SIGTERM to its process
// group, SIGKILL after 15s. It does nothing when the daemon is stopped.
func (b *BuildKitd) Stop() {
	b.mu.Lock()
	p := b.proc
	b.proc = nil
	b.mu.Unlock()
	if p == nil {
		return
	}
	pid := p.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
}

// start runs buildkitd with a new root and waits until it answers. A port
// another process took meanwhile makes the first start pick another.
func (b *BuildKitd) start(t testing.TB, first bool) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		if first {
			b.Addr = "tcp://" + freeLoopbackPort(t)
		}
		p, err := b.run()
		if err == nil {
			err = b.waitReady(p)
		}
		if err == nil {
			b.mu.Lock()
			b.proc = p
			b.mu.Unlock()
			return
		}
		logText, _ := os.ReadFile(p.log)
		if first && attempt < 5 && strings.Contains(string(logText), "address already in use") {
			continue
		}
		t.Fatalf("buildkitd at %s: %v", b.Addr, err)
	}
}

// run starts one buildkitd process in its own process group.
func (b *BuildKitd) run() (*bkProc, error) {
	b.starts++
	n := strconv.Itoa(b.starts)
	root := filepath.Join(b.dir, "root"+n)
	logPath := filepath.Join(b.dir, "buildkitd"+n+".log")
	b.logs = append(b.logs, logPath)
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(b.bin, "--oci-worker=true", "--containerd-worker=false",
		"--root", root, "--addr", b.Addr, "--config", b.config,
		"--tlscacert", b.CAFile, "--tlscert", b.serverCrt, "--tlskey", b.serverKey,
		"--otel-socket-path", filepath.Join(b.dir, "otel"+n+".sock"))
	cmd.Stdout, cmd.Stderr = f, f
	// Its own group, so that Stop reaches the steps it runs; killed if the
	// test process dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &bkProc{cmd: cmd, done: make(chan struct{}), log: logPath, root: root}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls ListWorkers over mTLS until the daemon answers, it exits,
// or a minute passes.
func (b *BuildKitd) waitReady(p *bkProc) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := bkclient.New(ctx, b.Addr,
		bkclient.WithServerConfig("127.0.0.1", b.CAFile), bkclient.WithCredentials(b.CertFile, b.KeyFile))
	if err != nil {
		return err
	}
	defer c.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		ws, err := c.ListWorkers(actx)
		acancel()
		if err == nil && len(ws) > 0 {
			return nil
		}
		if err == nil {
			err = errors.New("no workers")
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before it answered (%v): see its log below", p.cmd.ProcessState)
		case <-ctx.Done():
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
			return fmt.Errorf("no answer within a minute: %v", err)
		case <-tick.C:
		}
	}
}

// showLogs logs the end of each run's log.
func (b *BuildKitd) showLogs(t testing.TB) {
	for _, l := range b.logs {
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

// buildkitdConfig is buildkitd.toml: the OCI worker only, no garbage
// collection (a test's build finds what the previous one left), docker.io
// and mcr.microsoft.com through the mirror, and plain HTTP to the mirror
// and to httpRegistries.
func buildkitdConfig(mirror string, httpRegistries []string) string {
	var s strings.Builder
	s.WriteString("[worker.oci]\n  enabled = true\n  gc = false\n[worker.containerd]\n  enabled = false\n")
	for _, r := range []string{"docker.io", "mcr.microsoft.com"} {
		fmt.Fprintf(&s, "[registry.%q]\n  mirrors = [%q]\n", r, mirror)
	}
	for _, r := range append([]string{mirror}, httpRegistries...) {
		fmt.Fprintf(&s, "[registry.%q]\n  http = true\n", r)
	}
	return s.String()
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

// freeLoopbackPort returns 127.0.0.1:PORT with a port free a moment ago.
func freeLoopbackPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	l.Close()
	return addr
}

// buildkitdBinary is the buildkitd to run, or the test is skipped (failed
// with MSB_REQUIRE_BUILDKIT=1) with what is missing.
func buildkitdBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildkitdCheck()
	if err != nil {
		msg := err.Error() + ": run `eval \"$(scripts/buildkit)\"` as root"
		if os.Getenv("MSB_REQUIRE_BUILDKIT") == "1" {
			t.Fatal(msg + " (MSB_REQUIRE_BUILDKIT=1)")
		}
		t.Skip(msg)
	}
	return bin
}

// buildkitdCheck finds buildkitd of the version this module requires, and
// runc, once per process.
var buildkitdCheck = sync.OnceValues(func() (string, error) {
	if os.Geteuid() != 0 {
		return "", errors.New("buildkitd's OCI worker needs root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return "", errors.New("no runc on PATH")
	}
	bin, err := exec.LookPath("buildkitd")
	if err != nil {
		return "", errors.New("no buildkitd on PATH")
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %v", bin, err)
	}
	want := buildkitModuleVersion()
	if f := strings.Fields(string(out)); want != "" && (len(f) < 3 || f[2] != want) {
		return "", fmt.Errorf("%s is %q, not BuildKit %s (go.mod's)", bin, strings.TrimSpace(string(out)), want)
	}
	return bin, nil
})

// buildkitModuleVersion is the version of github.com/moby/buildkit this
// module requires: from the binary's build information or, in a test
// binary (which records no dependencies), from go.mod above the working
// directory. It is "" when neither says.
func buildkitModuleVersion() string {
	const mod = "github.com/moby/buildkit"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path != mod {
				continue
			}
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	dir, err := os.Getwd()
	for err == nil {
		data, rerr := os.ReadFile(filepath.Join(dir, "go.mod"))
		if rerr == nil {
			for _, l := range strings.Split(string(data), "\n") {
				f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "require "))
				if len(f) >= 2 && f[0] == mod {
					return f[1]
				}
			}
			return ""
		}
		if parent := filepath.Dir(dir); parent != dir {
			dir = parent
		} else {
			break
		}
	}
	return ""
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

// makeCerts makes, in dir, a CA, the daemon's certificate for 127.0.0.1
// and a client certificate it signed, and a client certificate another CA
// signed.
func (b *BuildKitd) makeCerts(t testing.TB, dir string) {
	t.Helper()
	ca, caKey := newCert(t, "msb-test buildkit CA", nil, nil, true)
	other, otherKey := newCert(t, "msb-test other CA", nil, nil, true)
	srv, srvKey := newCert(t, "buildkitd", ca, caKey, false)
	cli, cliKey := newCert(t, "msb-test client", ca, caKey, false)
	bad, badKey := newCert(t, "msb-test unsigned client", other, otherKey, false)
	b.CA = pemCert(ca)
	b.Cert, b.Key = pemCert(cli), pemKey(t, cliKey)
	b.UnsignedCert, b.UnsignedKey = pemCert(bad), pemKey(t, badKey)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, data, 0o600))
		return p
	}
	b.CAFile = write("ca.pem", b.CA)
	b.serverCrt, b.serverKey = write("daemon.pem", pemCert(srv)), write("daemon.key", pemKey(t, srvKey))
	b.CertFile, b.KeyFile = write("client.pem", b.Cert), write("client.key", b.Key)
	b.UnsignedCertFile, b.UnsignedKeyFile = write("unsigned.pem", b.UnsignedCert), write("unsigned.key", b.UnsignedKey)
}

// newCert makes a P-256 key and a certificate for it, valid for a day: a
// CA's (self-signed when parent is nil), or a leaf's for both server
// (127.0.0.1, localhost) and client authentication.
func newCert(t testing.TB, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	must(t, err)
	cert, err := x509.ParseCertificate(der)
	must(t, err)
	return cert, key
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
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
