package buildkit

import "testing"

// TestNormalized: a base image's reference reaches the daemon's resolver
// with its registry and tag spelled out.
func TestNormalized(t *testing.T) {
	t.Parallel()
	for ref, want := range map[string]string{
		"msb-test/busybox:1":             "docker.io/msb-test/busybox:1",
		"busybox":                        "docker.io/library/busybox:latest",
		"127.0.0.1:5000/team/app:base":   "127.0.0.1:5000/team/app:base",
		"mcr.microsoft.com/dotnet/sdk:8": "mcr.microsoft.com/dotnet/sdk:8",
		"busybox@sha256:" + sixtyFour:    "docker.io/library/busybox@sha256:" + sixtyFour,
		"Not A Reference":                "Not A Reference",
	} {
		if got := normalized(ref); got != want {
			t.Errorf("normalized(%q) = %q, want %q", ref, got, want)
		}
	}
}

const sixtyFour = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
