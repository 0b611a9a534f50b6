package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/registry"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/buildcontext"
)

// hosts answers for fixed hosts; an answer may name another host, as a
// wrong keychain could.
type hosts map[string]build.Auth

func (h hosts) Credentials(_ context.Context, host string) (build.Auth, error) {
	if host == "broken.example" {
		return build.Auth{}, errors.New("logging in to broken.example: no AWS credentials")
	}
	return h[host], nil
}

// images' and cache sources' registries, Docker Hub under its config key.
func TestRegistryConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	df := "ARG BASE=a.example/team/base:1\nFROM ${BASE} AS build\nFROM busybox\nCOPY --from=build /x /x\nFROM scratch\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	bc, err := buildcontext.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	o := build.Spec{Context: bc, CacheFrom: []string{"b.example/team/app:cache"}, Registries: hosts{
		"a.example":            {Host: "a.example", Username: "ua", Password: "pa"},
		"b.example":            {Username: "", Password: "refresh"},
		"registry-1.docker.io": {Host: "registry-1.docker.io", Username: "hub", Password: "ph"},
		"c.example":            {Host: "c.example", Username: "uc", Password: "pc"},
	}}
	want := map[string]registry.AuthConfig{
		"a.example":                   {Username: "ua", Password: "pa", ServerAddress: "a.example"},
		"b.example":                   {IdentityToken: "refresh", ServerAddress: "b.example"},
		"https://index.docker.io/v1/": {Username: "hub", Password: "ph", ServerAddress: "registry-1.docker.io"},
	}
	if diff := cmp.Diff(want, registryConfig(t.Context(), o)); diff != "" {
		t.Errorf("registryConfig() (-want +got):\n%s", diff)
	}
	o.BuildArgs = map[string]string{"BASE": "c.example/other:2"}
	if got := registryConfig(t.Context(), o); got["c.example"].Password != "pc" || got["a.example"].Password != "" {
		t.Errorf("registryConfig() with BASE=c.example/... = %v, want c.example's login, not a.example's", got)
	}
}
