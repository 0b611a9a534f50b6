package buildkit

import "testing"

func TestNormalized(t *testing.T) {
	t.Parallel()
	for ref, want := range map[string]string{
		"msb-example/runtime:1":            "docker.io/msb-example/runtime:1",
		"busybox":                          "docker.io/library/busybox:latest",
		"127.0.0.1:5000/team/app:v1":       "127.0.0.1:5000/team/app:v1",
		"mcr.microsoft.com/dotnet/sdk:8.0": "mcr.microsoft.com/dotnet/sdk:8.0",
		"Not A Reference\n::error::x":      "Not A Reference\n::error::x",
		"docker.io/library/alpine@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": "docker.io/library/alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	} {
		if got := normalized(ref); got != want {
			t.Errorf("normalized(%q) = %q, want %q", ref, got, want)
		}
	}
}
