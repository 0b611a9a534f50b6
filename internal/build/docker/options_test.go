package docker

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/buildcontext"
)

// TestBuildOptionsPullAndNoCache: pull and no-cache reach the engine as the
// docker CLI sends --pull and --no-cache.
func TestBuildOptionsPullAndNoCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bc, err := buildcontext.Open(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	for _, tc := range []struct{ pull, noCache bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		bo := buildOptions(build.Spec{Context: bc, Pull: tc.pull, NoCache: tc.noCache}, "id")
		if bo.PullParent != tc.pull || bo.NoCache != tc.noCache {
			t.Errorf("spec pull %v, no-cache %v: options PullParent %v, NoCache %v", tc.pull, tc.noCache, bo.PullParent, bo.NoCache)
		}
	}
}

// TestForRegistryOf: a login goes to the registry it is for, and to no other.
func TestForRegistryOf(t *testing.T) {
	t.Parallel()
	ecr := build.Auth{Host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Username: "AWS", Password: "pw"}
	hub := build.Auth{Host: "https://index.docker.io/v1/", Username: "u", Password: "pw"}
	for _, tc := range []struct {
		name string
		auth build.Auth
		ref  string
		want bool
	}{
		{"its own registry", ecr, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/base:1", true},
		{"another registry", ecr, "ghcr.io/acme/base:1", false},
		{"a host that only starts the same", ecr, "123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example/base:1", false},
		{"Docker Hub by its index name", hub, "busybox:1", true},
		{"Docker Hub's login elsewhere", hub, "ghcr.io/acme/base:1", false},
		{"no host: chosen for this ref", build.Auth{Username: "u", Password: "pw"}, "ghcr.io/acme/base:1", true},
		{"no login", build.Auth{Host: "ghcr.io"}, "ghcr.io/acme/base:1", false},
		{"a reference that does not parse", ecr, "Not A Ref", false},
	} {
		if got := forRegistryOf(tc.auth, tc.ref); got != tc.want {
			t.Errorf("%s: forRegistryOf(%s, %s) = %v, want %v", tc.name, tc.auth.Host, tc.ref, got, tc.want)
		}
	}
}
