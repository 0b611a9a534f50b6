package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/client"

	"github.com/org/ms-build-action/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/cli")

// versionLine is the line every run starts with; what it says depends on
// how the binary was built, so the golden files hold a placeholder.
var versionLine = regexp.MustCompile(`(?m)^ms-build (dev|v[0-9]).*$`)

// golden compares what a run printed, and its exit code, with
// testdata/cli/<name>.golden. Only the lines keep picks are compared (nil:
// all of them).
func golden(t *testing.T, name string, r result, keep func(line string) bool) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "exit %d\n", r.code)
	for _, s := range []struct{ name, text string }{{"stdout", r.stdout}, {"stderr", r.stderr}} {
		fmt.Fprintf(&b, "--- %s\n", s.name)
		for line := range strings.Lines(versionLine.ReplaceAllString(s.text, "ms-build VERSION")) {
			if keep == nil || keep(strings.TrimSuffix(line, "\n")) {
				b.WriteString(line)
			}
		}
	}
	path := filepath.Join("testdata", "cli", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the golden file (go test -run TestCLIGolden -update ./e2e): %v", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// versionAndErrors keeps the version line and the errors: what a failed
// run's progress lines are around does not belong in a golden file.
func versionAndErrors(line string) bool {
	return line == "ms-build VERSION" || strings.HasPrefix(line, "error")
}

// TestCLIGolden: the command line as a person meets it. Help on stdout with
// exit 0; a bad command line is one line on stderr saying what to type, exit
// 2; a failed run prints its version first, then each failure once, with
// one prefix, naming flags where it advises.
func TestCLIGolden(t *testing.T) {
	t.Parallel()
	nowhere := []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"} // these fail before the engine is asked
	for _, tc := range []struct {
		name  string
		args  []string
		files map[string]string // over the twostage fixture; "" removes one
		keep  func(string) bool
	}{
		{name: "help", args: []string{"--help"}},
		{name: "unknown-flag", args: []string{"--contxt=app"}},
		{name: "bool-flag-separate-value", args: []string{"--dry-run", "--push", "false"}},
		{name: "flag-without-value", args: []string{"--repository"}},
		{name: "unknown-command", args: []string{"build"}},
		{name: "merge-without-images", args: []string{"merge", "--repository=team/app"}},
		{name: "merge-one-image", args: []string{"merge", "--images=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "--aws-region=eu-west-1", "--repository=team/app", "--tags=v1"}},
		{name: "missing-dockerfile", args: []string{"--dry-run"}, files: map[string]string{"Dockerfile": ""}, keep: versionAndErrors},
		{name: "dockerfile-syntax", args: []string{"--dry-run"}, files: map[string]string{"Dockerfile": "FROM msb-test/sdk:1 AS build\nRUN true\nCOPPY . .\nFROM msb-test/busybox:1\nCOPY --from=build /src /src\n"}},
		{name: "advice-names-flags", args: []string{"--aws-region=eu-west-1"}, keep: versionAndErrors},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := workspace(t, "twostage")
			for name, content := range tc.files {
				if content == "" {
					if err := os.Remove(filepath.Join(dir, name)); err != nil {
						t.Fatal(err)
					}
					continue
				}
				write(t, dir, name, content)
			}
			r := runBinary(t, dir, nowhere, tc.args...)
			golden(t, tc.name, r, tc.keep)
			if strings.Contains(r.logs(), dir) {
				t.Errorf("the output names the temporary directory %s", dir)
			}
		})
	}
}

// TestCLIHelp: -h, --help and help print the same help on stdout, exit 0,
// every input shown as it is typed (--name=VALUE, a boolean as --push=false).
func TestCLIHelp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := runBinary(t, dir, nil, "--help")
	for _, args := range [][]string{{"-h"}, {"help"}, {"-help"}, {"--dry-run", "--help"}} {
		r := runBinary(t, dir, nil, args...)
		if r.code != 0 || r.stdout != want.stdout || r.stderr != "" {
			t.Errorf("%q: exit %d, stderr %q, stdout differs from --help's: %v", args, r.code, r.stderr, r.stdout != want.stdout)
		}
	}
	for _, s := range []string{"--repository=VALUE", "--push=false", "--cache=false", "--dry-run\n", "(default true)", "(default 14)", "--network=VALUE"} {
		if !strings.Contains(want.stdout, s) {
			t.Errorf("--help lacks %q", s)
		}
	}
	if strings.Contains(want.stdout, "\n  -repository") || strings.Contains(want.stdout, " value\n") {
		t.Errorf("--help shows flags in Go's form (-name value):\n%s", want.stdout)
	}
}

// TestCLIUsageErrorsAreOneLine: a hostile word on the command line comes
// back on one line.
func TestCLIUsageErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--a\nb", "--" + strings.Repeat("x", 300), "--%s::error::x"} {
		r := runBinary(t, t.TempDir(), nil, arg)
		if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "error: ") || len(r.stderr) > 200 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and one short line on stderr", arg, r.code, r.stdout, r.stderr)
		}
	}
}

// TestCLINoBridge: on an engine without a bridge network (the project's:
// scripts/engine starts dockerd with --bridge=none), a RUN step on the
// default network fails with what to set, and points at no Dockerfile line:
// the line is fine.
func TestCLINoBridge(t *testing.T) {
	t.Parallel()
	c := testenv.Docker(t)
	if _, err := c.NetworkInspect(t.Context(), "bridge", client.NetworkInspectOptions{}); err == nil {
		t.Skip("the engine has a bridge network")
	}
	testenv.BaseImages(t, c)
	dir := workspace(t, "twostage")
	r := runBinary(t, dir, nil, "--push=false")
	golden(t, "no-bridge", r, versionAndErrors)
	if n := strings.Count(r.logs(), "has no bridge network"); n != 1 {
		t.Errorf("the failure is printed %d times, want once", n)
	}
	// The action names the input as a workflow sets it.
	gh := github(t, dir, nil, map[string]string{"push": "false"})
	if !strings.Contains(gh.stdout, "the Docker engine has no bridge network for RUN steps: set network: none (or host)\n") {
		t.Errorf("the action's error does not name the network input:\n%s", gh.stdout)
	}
	if strings.Contains(gh.stdout, "::error file=") {
		t.Errorf("the error points at a Dockerfile line:\n%s", gh.stdout)
	}
}

// TestCLIVersionFromGit: a plain go build in a git checkout records the
// commit, and version prints it.
func TestCLIVersionFromGit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	clone := filepath.Join(t.TempDir(), "src")
	run := func(dir string, env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %q: %v", name, args, err)
		}
		return strings.TrimSpace(string(out))
	}
	run("..", nil, "git", "clone", "--quiet", "--no-hardlinks", ".", clone)
	rev := run(clone, nil, "git", "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "ms-build")
	// A plain go build: -buildvcs is the default (auto), whatever GOFLAGS
	// this machine sets.
	run(clone, []string{"GOFLAGS=-buildvcs=auto"}, "go", "build", "-o", bin, ".")
	got := run(clone, nil, bin, "version")
	if want := "ms-build dev (" + rev[:12] + ", "; !strings.HasPrefix(got, want) || strings.Contains(got, "modified") {
		t.Errorf("version = %q, want it to start %q, unmodified", got, want)
	}
	// A change to a tracked file: the build says it was modified.
	f, err := os.OpenFile(filepath.Join(clone, "README.md"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "changed")
	f.Close()
	run(clone, []string{"GOFLAGS=-buildvcs=auto"}, "go", "build", "-o", bin, ".")
	if got := run(clone, nil, bin, "version"); !strings.HasSuffix(got, ", modified)") {
		t.Errorf("version of a modified checkout = %q, want it to say modified", got)
	}
}
