package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// SSHAgent starts a real ssh-agent holding a fresh ed25519 key and returns
// its socket and the key's file. Without openssh-client the test is
// skipped, or fails when MSB_REQUIRE_SSH=1.
func SSHAgent(t testing.TB) (sock, key string) {
	t.Helper()
	for _, tool := range []string{"ssh-agent", "ssh-add", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("MSB_REQUIRE_SSH") == "1" {
				t.Fatalf("%s is missing (install openssh-client): %v", tool, err)
			}
			t.Skipf("%s is missing (install openssh-client)", tool)
		}
	}
	// A short directory: a socket's path is at most 107 bytes.
	dir, err := os.MkdirTemp("", "msb-ssh-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	key = filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "msb-test", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	sock = filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	must(t, agent.Start())
	t.Cleanup(func() {
		agent.Process.Kill()
		agent.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent did not open its socket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	return sock, key
}
