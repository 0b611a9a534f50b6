package action

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

const secret = "pa55w0rd-from-ecr"

var sample = Summary{
	Outputs: Outputs{
		ImageURI:              "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@sha256:1111111111111111111111111111111111111111111111111111111111111111",
		Digest:                "sha256:1111111111111111111111111111111111111111111111111111111111111111",
		ImageID:               "sha256:2222222222222222222222222222222222222222222222222222222222222222",
		Tags:                  []string{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:abc1234", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:latest"},
		ImageSizeBytes:        87_300_000,
		ImageSize:             "87.3 MB",
		UncompressedSizeBytes: 210_000_000,
		BuildStageSizeBytes:   1_400_000_000,
		Registry:              "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
	},
	Repository: "team/app",
	Target:     "final",
	BuildStage: "build",
	Pushed:     true,
	Timings:    []Timing{{"build stage build", 42 * time.Second}, {"push", 3500 * time.Millisecond}},
}

// exercise drives a reporter through everything a run does, with the secret
// masked first and then offered in every channel.
func exercise(t *testing.T, r Reporter) {
	t.Helper()
	r.Mask(secret)
	r.Infof("Logged in with %s", secret)
	r.Annotate(Annotation{Level: Warning, Title: "Dockerfile", File: "Dockerfile", Line: 3, Message: "COPY . . before restore " + secret})
	r.Section("DONE [build 4/4] RUN dotnet publish (12.0s)", []byte("line one\n::set-output name=x::y\nsecret "+secret+"\n"))
	o := sample.Outputs
	o.ImageID = secret
	if err := r.Outputs(o); err != nil {
		t.Fatalf("Outputs: %v", err)
	}
	if err := r.Summary(sample); err != nil {
		t.Fatalf("Summary: %v", err)
	}
}

func TestGitHubReporter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
	}
	var stdout bytes.Buffer
	exercise(t, NewGitHub(&stdout, func(k string) string { return env[k] }))

	out, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	summary, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	// The runner consumes the add-mask command: it is the only place the
	// secret may be written, and only on stdout.
	lines := strings.Split(stdout.String(), "\n")
	if got, want := lines[0], "::add-mask::"+secret; got != want {
		t.Errorf("first line = %q, want %q", got, want)
	}
	rest := strings.Join(lines[1:], "\n")
	for name, s := range map[string]string{"stdout": rest, "outputs": string(out), "summary": string(summary)} {
		if strings.Contains(s, secret) {
			t.Errorf("%s holds the secret:\n%s", name, s)
		}
	}
	// Stop-commands tokens are random: name them for the golden file.
	tok := regexp.MustCompile(`::stop-commands::(\S+)`).FindStringSubmatch(rest)
	if tok == nil {
		t.Fatalf("no stop-commands around the build log:\n%s", rest)
	}
	rest = strings.ReplaceAll(rest, tok[1], "TOKEN")
	golden(t, "github.stdout", rest)
	golden(t, "github.output", string(out))
	golden(t, "github.summary.md", string(summary))
}

func TestGitHubReporterOutsideGitHub(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	r := NewGitHub(&stdout, func(string) string { return "" })
	r.Mask(secret)
	if err := r.Outputs(sample.Outputs); err == nil || !strings.Contains(err.Error(), "GITHUB_OUTPUT") {
		t.Errorf("Outputs without GITHUB_OUTPUT: error = %v, want one naming GITHUB_OUTPUT", err)
	}
	if err := r.Summary(sample); err != nil {
		t.Errorf("Summary without GITHUB_STEP_SUMMARY: %v, want nothing done", err)
	}
}

func TestGitHubReporterUnwritableFile(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GITHUB_OUTPUT": filepath.Join(t.TempDir(), "missing", "output")}
	r := NewGitHub(&bytes.Buffer{}, func(k string) string { return env[k] })
	if err := r.Outputs(sample.Outputs); err == nil {
		t.Error("Outputs to an unwritable file succeeded, want an error (and no panic)")
	}
}

func TestPlainReporter(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	exercise(t, NewPlain(&stdout, &stderr))
	if got, want := stdout.String(), sample.ImageURI+"\n"; got != want {
		t.Errorf("stdout = %q, want the image reference alone: %q", got, want)
	}
	if strings.Contains(stderr.String(), secret) {
		t.Errorf("stderr holds the secret:\n%s", stderr.String())
	}
	golden(t, "plain.stderr", stderr.String())
}

func TestGitLabReporter(t *testing.T) {
	t.Parallel()
	dotenv := filepath.Join(t.TempDir(), "ms-build.env")
	var log bytes.Buffer
	exercise(t, NewGitLab(&log, dotenv, func() time.Time { return time.Unix(1764000000, 0) }))
	env, err := os.ReadFile(dotenv)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{"log": log.String(), "dotenv": string(env)} {
		if strings.Contains(s, secret) {
			t.Errorf("%s holds the secret:\n%s", name, s)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(env)), "\n") {
		if !regexp.MustCompile(`^MSB_[A-Z_]+=[^\n]*$`).MatchString(line) {
			t.Errorf("dotenv line %q is not NAME=value", line)
		}
	}
	golden(t, "gitlab.log", strings.ReplaceAll(log.String(), dotenv, "DOTENV"))
	golden(t, "gitlab.env", string(env))
}

// TestGitLabDotenvLimit: a report GitLab would refuse (5,120 bytes or more:
// metadata repeats every tag) keeps the outputs later jobs need, drops
// metadata first, then the tags that do not fit, and says so in the log.
func TestGitLabDotenvLimit(t *testing.T) {
	t.Parallel()
	tags := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:release-2026.11.%03d", i))
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		tags     int
		metadata bool // MSB_METADATA stays
		allTags  bool // MSB_TAGS lists every tag
		notice   string
	}{
		{"fits", 2, true, true, ""},
		{"metadata would not fit", 35, false, true, "MSB_METADATA was left out"},
		{"tags would not fit either", 200, false, false, "MSB_TAGS lists the first "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dotenv := filepath.Join(t.TempDir(), "ms-build.env")
			var log bytes.Buffer
			o := sample.Outputs
			o.Tags = tags(tc.tags)
			if err := NewGitLab(&log, dotenv, time.Now).Outputs(o); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(dotenv)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) >= DotenvLimit {
				t.Errorf("the report is %d bytes, want under %d", len(b), DotenvLimit)
			}
			env := map[string]string{}
			for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				k, v, _ := strings.Cut(line, "=")
				env[k] = v
			}
			for _, k := range []string{"MSB_IMAGE_URI", "MSB_DIGEST", "MSB_IMAGE_SIZE_BYTES", "MSB_SKIPPED"} {
				if env[k] == "" {
					t.Errorf("%s is missing or empty:\n%s", k, b)
				}
			}
			if _, ok := env["MSB_METADATA"]; ok != tc.metadata {
				t.Errorf("MSB_METADATA present: %v, want %v", ok, tc.metadata)
			}
			got := strings.Split(env["MSB_TAGS"], ",")
			if all := len(got) == tc.tags; all != tc.allTags || !slices.Equal(got, o.Tags[:len(got)]) {
				t.Errorf("MSB_TAGS has %d of %d tags (want all: %v), or not the first ones", len(got), tc.tags, tc.allTags)
			}
			if tc.notice == "" && strings.Contains(log.String(), "dotenv report") || !strings.Contains(log.String(), tc.notice) {
				t.Errorf("log = %q, want a notice saying %q", log.String(), tc.notice)
			}
			t.Logf("%d tags: %d bytes", tc.tags, len(b))
		})
	}
}

// TestPlainStatus: on a terminal a status line is replaced by the next
// line (redacted, escaped, cut to one screen line); elsewhere it is not
// shown, and the caller is told so.
func TestPlainStatus(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	p := NewPlain(io.Discard, &stderr)
	if p.Status("Running [build 2/4] RUN make") || stderr.Len() != 0 {
		t.Fatalf("a status line was shown on a buffer: %q", stderr.String())
	}
	p.live = true
	p.Mask(secret)
	if !p.Status("Running [build 2/4] RUN echo " + secret + "\n::error::x " + strings.Repeat("x", 200)) {
		t.Fatal("a terminal did not show the status line")
	}
	p.Infof("Built %s", "sha256:1")
	got := stderr.String()
	status, rest, _ := strings.Cut(strings.TrimPrefix(got, "\r\x1b[K"), "\r\x1b[K")
	if strings.Contains(status, secret) || strings.Contains(status, "\n") || len([]rune(status)) > statusWidth {
		t.Errorf("status line %q: a secret, a line break, or over %d characters", status, statusWidth)
	}
	if rest != "Built sha256:1\n" {
		t.Errorf("after the status line: %q, want it cleared and the next line", rest)
	}
}
