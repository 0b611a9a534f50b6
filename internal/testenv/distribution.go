package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"golang.org/x/crypto/bcrypt"

	// The htpasswd access controller and the inmemory storage driver register themselves.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Distribution returns the handler of a distribution/v3 registry with in-memory storage, deletes
// enabled, and htpasswd authentication holding one bcrypt entry for user and password. Serve it
// behind a gate on 127.0.0.1:0 (httptest.NewServer does). It registers no health checks, so any
// number can run in one process; it shuts down when t ends.
//
// The htpasswd access controller re-reads its file whenever the file's modification time changes
// (distribution v3.1.2 registry/auth/htpasswd/access.go), so Htpasswd.Set takes effect on the next
// request, provided the file system's timestamps tell the two writes apart.
func Distribution(t testing.TB, user, password string) (http.Handler, *Htpasswd) {
	t.Helper()
	dir := t.TempDir()
	h := &Htpasswd{path: filepath.Join(dir, "htpasswd")}
	if err := h.Set(user, password); err != nil {
		t.Fatalf("writing htpasswd: %v", err)
	}
	var secret [16]byte
	if _, err := rand.Read(secret[:]); err != nil {
		t.Fatalf("generating registry secret: %v", err)
	}
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"inmemory": configuration.Parameters{},
			"delete":   configuration.Parameters{"enabled": true},
			"maintenance": configuration.Parameters{
				"uploadpurging": map[any]any{"enabled": false},
			},
		},
		Auth: configuration.Auth{
			"htpasswd": configuration.Parameters{"realm": "testenv-distribution", "path": h.path},
		},
		Catalog: configuration.Catalog{MaxEntries: 1000},
	}
	cfg.HTTP.Secret = hex.EncodeToString(secret[:])
	app := handlers.NewApp(context.Background(), cfg)
	t.Cleanup(func() {
		if err := app.Shutdown(); err != nil {
			t.Errorf("shutting down distribution: %v", err)
		}
	})
	return app, h
}

// Htpasswd is the password file of a Distribution registry.
type Htpasswd struct {
	path string
}

// Set replaces the file with one entry for user and password, hashed with bcrypt's minimum cost so
// that the registry's check on every request stays fast under -race.
func (h *Htpasswd) Set(user, password string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return fmt.Errorf("hashing password for htpasswd: %w", err)
	}
	tmp := h.path + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%s:%s\n", user, hash), 0o600); err != nil {
		return fmt.Errorf("writing htpasswd: %w", err)
	}
	if err := os.Rename(tmp, h.path); err != nil {
		return fmt.Errorf("writing htpasswd: %w", err)
	}
	return nil
}
