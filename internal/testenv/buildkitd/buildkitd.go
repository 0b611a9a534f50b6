// Package buildkitd runs a standalone buildkitd for the tests
// (testenv.BuildKit) and the benchmark: BuildKit's daemon (built by
// scripts/buildkit at go.mod's version) with its OCI worker on Debian's
// runc, listening on a loopback TCP port with mutual TLS (certificates it
// makes), with its own root, and resolving docker.io's and
// mcr.microsoft.com's images through a mirror registry its caller serves.
package buildkitd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bkclient "github.com/moby/buildkit/client"
)

// Config says what the daemon reaches.
type Config struct {
	// Mirror is the host:port of the registry (plain HTTP) the daemon
	// pulls docker.io's and mcr.microsoft.com's images from.
	Mirror string
	// HTTPRegistries are further registries (host:port) the daemon reaches
	// over plain HTTP.
	HTTPRegistries []string
}

// Daemon is a running buildkitd.
type Daemon struct {
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

	bin, dir, config     string
	serverCrt, serverKey string
	mu                   sync.Mutex
	proc                 *proc
	starts               int
	logs                 []string
}

// proc is one run of buildkitd.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	log  string
	root string
}

// Start makes the daemon's certificates and configuration in a new
// temporary directory and starts buildkitd, answering before it returns.
// On failure nothing is left running and the error ends with the daemon's
// log. Close stops it and removes the directory.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	// Short: a socket's path is at most 107 bytes.
	dir, err := os.MkdirTemp("", "msb-bk-")
	if err != nil {
		return nil, err
	}
	d := &Daemon{bin: bin, dir: dir, config: filepath.Join(dir, "buildkitd.toml")}
	err = d.makeCerts(filepath.Join(dir, "certs"))
	if err == nil {
		err = os.WriteFile(d.config, []byte(configFile(cfg.Mirror, cfg.HTTPRegistries)), 0o644)
	}
	if err == nil {
		err = d.start(ctx, true)
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Restart stops the daemon and starts it again at the same address with an
// empty root: a fresh runner's builder, with nothing cached.
func (d *Daemon) Restart(ctx context.Context) error {
	d.mu.Lock()
	p := d.proc
	d.mu.Unlock()
	d.Stop()
	if p != nil {
		if err := os.RemoveAll(p.root); err != nil {
			return fmt.Errorf("removing the previous buildkitd root: %w", err)
		}
	}
	return d.start(ctx, false)
}

// Stop stops the daemon (and the steps it runs): SIGTERM to its process
// group, SIGKILL after 15s. It does nothing when the daemon is stopped.
func (d *Daemon) Stop() {
	d.mu.Lock()
	p := d.proc
	d.proc = nil
	d.mu.Unlock()
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

// Close stops the daemon and removes its directory: roots, logs and
// certificates.
func (d *Daemon) Close() error {
	d.Stop()
	return os.RemoveAll(d.dir)
}

// Logs are the paths of each run's log, oldest first; Close removes them.
func (d *Daemon) Logs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.logs...)
}

// Client returns a client of the daemon with the signed client certificate.
func (d *Daemon) Client(ctx context.Context) (*bkclient.Client, error) {
	return bkclient.New(ctx, d.Addr,
		bkclient.WithServerConfig("127.0.0.1", d.CAFile), bkclient.WithCredentials(d.CertFile, d.KeyFile))
}

// start runs buildkitd with a new root and waits until it answers. A port
// another process took meanwhile makes the first start pick another.
func (d *Daemon) start(ctx context.Context, first bool) error {
	for attempt := 1; ; attempt++ {
		if first {
			addr, err := freeLoopbackPort()
			if err != nil {
				return err
			}
			d.Addr = "tcp://" + addr
		}
		p, err := d.run()
		if err != nil {
			return err
		}
		if err = d.waitReady(ctx, p); err == nil {
			d.mu.Lock()
			d.proc = p
			d.mu.Unlock()
			return nil
		}
		logText, _ := os.ReadFile(p.log)
		if first && attempt < 5 && strings.Contains(string(logText), "address already in use") {
			continue
		}
		return fmt.Errorf("buildkitd at %s: %v; its log (%s):\n%s", d.Addr, err, p.log, tail(logText, 8<<10))
	}
}

// run starts one buildkitd process in its own process group.
func (d *Daemon) run() (*proc, error) {
	d.mu.Lock()
	d.starts++
	n := strconv.Itoa(d.starts)
	root := filepath.Join(d.dir, "root"+n)
	logPath := filepath.Join(d.dir, "buildkitd"+n+".log")
	d.logs = append(d.logs, logPath)
	d.mu.Unlock()
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(d.bin, "--oci-worker=true", "--containerd-worker=false",
		"--root", root, "--addr", d.Addr, "--config", d.config,
		"--tlscacert", d.CAFile, "--tlscert", d.serverCrt, "--tlskey", d.serverKey,
		"--otel-socket-path", filepath.Join(d.dir, "otel"+n+".sock"))
	cmd.Stdout, cmd.Stderr = f, f
	// Its own group, so that Stop reaches the steps it runs; killed if the
	// process that started it dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), log: logPath, root: root}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls ListWorkers over mTLS until the daemon answers, it exits,
// or a minute passes (or ctx ends); a daemon that does not answer is
// killed.
func (d *Daemon) waitReady(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	kill := func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	c, err := d.Client(ctx)
	if err != nil {
		kill()
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
			return fmt.Errorf("exited before it answered (%v)", p.cmd.ProcessState)
		case <-ctx.Done():
			kill()
			return fmt.Errorf("no answer within a minute: %v", err)
		case <-tick.C:
		}
	}
}

// configFile is buildkitd.toml: the OCI worker only, no garbage collection
// (a build finds what the previous one left), docker.io and
// mcr.microsoft.com through the mirror, and plain HTTP to the mirror and to
// httpRegistries.
func configFile(mirror string, httpRegistries []string) string {
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

// freeLoopbackPort returns 127.0.0.1:PORT with a port free a moment ago.
func freeLoopbackPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	return addr, nil
}

// Binary finds buildkitd of the version this module requires, and runc,
// once per process; its error says what is missing.
var Binary = sync.OnceValues(func() (string, error) {
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
	want := ModuleVersion()
	if f := strings.Fields(string(out)); want != "" && (len(f) < 3 || f[2] != want) {
		return "", fmt.Errorf("%s is %q, not BuildKit %s (go.mod's)", bin, strings.TrimSpace(string(out)), want)
	}
	return bin, nil
})

// ModuleVersion is the version of github.com/moby/buildkit this module
// requires: from the binary's build information or, in a test binary
// (which records no dependencies), from go.mod above the working
// directory. It is "" when neither says.
func ModuleVersion() string {
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

// tail is the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return append([]byte("...\n"), b[len(b)-n:]...)
	}
	return b
}
