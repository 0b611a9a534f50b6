package ecrlocal

import (
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStartAndClose(t *testing.T) {
	t.Parallel()
	l, err := Start(t.Context(), Config{})
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	u, err := url.Parse(l.Endpoint)
	if err != nil {
		t.Fatalf("Endpoint %q: %v", l.Endpoint, err)
	}
	for _, hostport := range []string{u.Host, l.Registry} {
		host, _, err := net.SplitHostPort(hostport)
		if err != nil {
			t.Fatalf("SplitHostPort(%q) error = %v", hostport, err)
		}
		if got, want := host, "127.0.0.1"; got != want {
			t.Errorf("listener host = %q, want %q", got, want)
		}
	}
	if got, want := l.Server.RegistryHost(), l.Registry; got != want {
		t.Errorf("RegistryHost() = %q, want %q", got, want)
	}
	if l.AccessKeyID == "" || len(l.SecretAccessKey) < 32 || l.Region != "us-east-1" || l.RegistryID != DefaultRegistryID {
		t.Errorf("generated settings = %q, %d-character secret, %q, %q", l.AccessKeyID, len(l.SecretAccessKey), l.Region, l.RegistryID)
	}
	other, err := Start(t.Context(), Config{})
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	defer other.Close()
	if other.AccessKeyID == l.AccessKeyID || other.SecretAccessKey == l.SecretAccessKey {
		t.Errorf("two Starts generated the same credentials")
	}

	// A blob written through the registry lands in the blob directory.
	if fi, err := os.Stat(filepath.Join(l.dir, "blobs", "sha256")); err != nil || !fi.IsDir() {
		t.Fatalf("blob directory missing: %v", err)
	}
	resp, err := http.Get("http://" + l.Registry + "/v2/")
	if err != nil {
		t.Fatalf("GET /v2/ error = %v", err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, http.StatusUnauthorized; got != want {
		t.Errorf("GET /v2/ without credentials = %d, want %d", got, want)
	}

	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Close() took %v", elapsed)
	}
	if _, err := os.Stat(l.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("blob directory after Close: %v, want it removed", err)
	}
	for _, addr := range []string{u.Host, l.Registry} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", addr)
		}
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close() error = %v", err)
	}
}

func TestStartRejectsRegistryURL(t *testing.T) {
	t.Parallel()
	if _, err := Start(t.Context(), Config{RegistryURL: "http://127.0.0.1:5000"}); err == nil {
		t.Errorf("Start() with a RegistryURL: error = nil, want one")
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	valid := Config{AccessKeyID: "AKID", SecretAccessKey: "secret", Region: "us-east-1", RegistryURL: "http://127.0.0.1:5000"}
	for _, tc := range []struct {
		name    string
		edit    func(*Config)
		wantErr bool
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "no key", edit: func(c *Config) { c.AccessKeyID = "" }, wantErr: true},
		{name: "no secret", edit: func(c *Config) { c.SecretAccessKey = "" }, wantErr: true},
		{name: "no region", edit: func(c *Config) { c.Region = "" }, wantErr: true},
		{name: "registry without scheme", edit: func(c *Config) { c.RegistryURL = "127.0.0.1:5000" }, wantErr: true},
		{name: "registry with credentials", edit: func(c *Config) { c.RegistryURL = "http://u:p@127.0.0.1:5000" }, wantErr: true},
		{name: "short registry id", edit: func(c *Config) { c.RegistryID = "123" }, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tc.edit(&cfg)
			_, err := New(cfg)
			if got := err != nil; got != tc.wantErr {
				t.Errorf("New() error = %v, want error %t", err, tc.wantErr)
			}
		})
	}
}
