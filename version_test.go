package main

import (
	"runtime/debug"
	"testing"
)

// TestVersionString: the release's version when one was set, else what the
// Go build recorded: the module's version, or the git commit.
func TestVersionString(t *testing.T) {
	t.Parallel()
	vcs := func(kv ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/org/ms-build-action", Version: "(devel)"}}
			for i := 0; i < len(kv); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
			}
			return bi, true
		}
	}
	const rev = "3f2a1bc4e5f60718293a4b5c6d7e8f9012345678"
	for _, tc := range []struct {
		name, set string
		read      func() (*debug.BuildInfo, bool)
		want      string
	}{
		{"release", "v1.4.0", vcs("vcs.revision", rev), "v1.4.0"},
		{"action's source build", "main+3f2a1bc4e5f6", vcs(), "main+3f2a1bc4e5f6"},
		{"git checkout", "dev", vcs("vcs", "git", "vcs.revision", rev, "vcs.time", "2026-11-28T10:00:00Z", "vcs.modified", "false"), "dev (3f2a1bc4e5f6, 2026-11-28T10:00:00Z)"},
		{"modified checkout", "dev", vcs("vcs.revision", rev, "vcs.time", "2026-11-28T10:00:00Z", "vcs.modified", "true"), "dev (3f2a1bc4e5f6, 2026-11-28T10:00:00Z, modified)"},
		{"go install at a version", "dev", func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0", Sum: "h1:abc="}}, true
		}, "v1.4.0"},
		{"no git", "dev", vcs(), "dev (no revision recorded: built without git, or with -buildvcs=false)"},
		{"no build info", "dev", func() (*debug.BuildInfo, bool) { return nil, false }, "dev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := versionString(tc.set, tc.read); got != tc.want {
				t.Errorf("versionString() = %q, want %q", got, tc.want)
			}
		})
	}
}
