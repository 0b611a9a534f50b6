package action

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// keyPEM stands for a client key: it must never be in an error.
const keyPEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKs3cr3tKeyMaterial\n-----END PRIVATE KEY-----"

func parseBuilder(t *testing.T, extra map[string]string) (*Inputs, error) {
	t.Helper()
	raw := map[string]string{"repository": "team/app", "aws-region": "us-east-1", "tags": "v1"}
	for k, v := range extra {
		raw[k] = v
	}
	return Parse(raw, Environment{CI: CI{Provider: GitHub}})
}

func TestParseBuilder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		raw  map[string]string
		want Builder
	}{
		{"default", nil, Builder{}},
		{"docker", map[string]string{"builder": "docker", "platforms": "linux/arm64"}, Builder{Platforms: []string{"linux/arm64"}}},
		{"unix", map[string]string{"builder": "unix:///run/buildkit/buildkitd.sock"}, Builder{Address: "unix:///run/buildkit/buildkitd.sock"}},
		{"tcp with a path and PEM text", map[string]string{"builder": "tcp://buildkitd:1234", "buildkit-ca": ca, "buildkit-cert": "-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----", "buildkit-key": keyPEM},
			Builder{Address: "tcp://buildkitd:1234", CA: []byte("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"), Cert: []byte("-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----\n"), Key: []byte(keyPEM + "\n")}},
		{"platforms normalized", map[string]string{"builder": "unix:///b.sock", "platforms": "linux/amd64,\nlinux/aarch64"}, Builder{Address: "unix:///b.sock", Platforms: []string{"linux/amd64", "linux/arm64"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, err := parseBuilder(t, tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, in.Builder); diff != "" {
				t.Errorf("Builder (-want +got):\n%s", diff)
			}
		})
	}
}

// A tcp:// builder without a client certificate is allowed (a daemon on a
// private network), and the run says so.
func TestParseBuilderWithoutTLSNotice(t *testing.T) {
	t.Parallel()
	in, err := parseBuilder(t, map[string]string{"builder": "tcp://127.0.0.1:1234"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(in.Notices, "\n"), "not authenticated") {
		t.Errorf("notices = %q, want one that says the connection is not authenticated", in.Notices)
	}
}

func TestParseBuilderErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(notPEM, []byte(keyPEM[30:]), 0o600); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		name  string
		raw   map[string]string
		input string
		want  string
	}{
		{"buildx driver", map[string]string{"builder": "docker-container://builder0"}, "builder", "neither docker nor a BuildKit address"},
		{"no port", map[string]string{"builder": "tcp://buildkitd"}, "builder", "not tcp://host:port"},
		{"unix without a path", map[string]string{"builder": "unix://"}, "builder", "not unix:///path"},
		{"newline", map[string]string{"builder": "tcp://a:1\n::error::x"}, "builder", "not an address"},
		{"hostile long", map[string]string{"builder": "ftp://" + long + "%s::"}, "builder", "not an address"},
		{"another scheme", map[string]string{"builder": "ssh://" + long}, "builder", "neither docker"},
		{"certs for docker", map[string]string{"buildkit-ca": keyPEM}, "buildkit-ca", "is for a tcp:// BuildKit builder"},
		{"certs for unix", map[string]string{"builder": "unix:///b.sock", "buildkit-key": keyPEM}, "buildkit-key", "is for a tcp:// BuildKit builder"},
		{"key without cert", map[string]string{"builder": "tcp://b:1", "buildkit-key": keyPEM}, "buildkit-key", "go together"},
		{"missing file", map[string]string{"builder": "tcp://b:1", "buildkit-ca": "/nonexistent/ca.pem"}, "buildkit-ca", "not a readable file"},
		{"not PEM", map[string]string{"builder": "tcp://b:1", "buildkit-cert": "-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----", "buildkit-key": notPEM}, "buildkit-key", "holds no PEM block"},
		{"key text cut", map[string]string{"builder": "tcp://b:1", "buildkit-cert": "-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----", "buildkit-key": keyPEM[30:]}, "buildkit-key", "neither PEM text"},
		{"bad platform", map[string]string{"platforms": "linux/amd64,windows 11"}, "platforms", "is not a platform"},
		{"twice", map[string]string{"builder": "unix:///b.sock", "platforms": "linux/arm64,linux/aarch64"}, "platforms", "linux/arm64 is given twice"},
		{"several on docker", map[string]string{"platforms": "linux/amd64,linux/arm64"}, "platforms", "need a BuildKit builder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseBuilder(t, tc.raw)
			var ie *InputError
			if !errors.As(err, &ie) || ie.Input != tc.input || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want an error of input %s saying %q", err, tc.input, tc.want)
			}
			msg := err.Error()
			if strings.Contains(msg, "KeyMaterial") || strings.Contains(msg, "\n") || len(msg) > 1000 {
				t.Errorf("error %q: want one line of under 1000 characters without the key", msg)
			}
		})
	}
}
