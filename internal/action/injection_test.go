package action

import (
	"bytes"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Strings from the repository that try to forge a workflow command or a
// GitLab section, as DESIGN.md section 8 asks of every name we print.
const (
	hostileStep = "[build 2/4] RUN echo x\n::warning title=forged::step\r::error::cr ##[warning]legacy"
	hostilePath = "deps/%0A::error title=forged::path/a,b:c\x1b[31m/requirements.txt"
	hostileArg  = "\x1b[0Ksection_end:1764000000:msb_step_1\r\x1b[0K\x1b[0Ksection_start:1764000000:forged\r\x1b[0Kpwned \u0085next"
)

// hostileRun drives a reporter the way a run does, with the hostile
// strings in every place they reach: milestone lines, a section's title and
// its build log, an annotation's title, file and message.
func hostileRun(t *testing.T, r Reporter) {
	t.Helper()
	step := hostileStep + " --build-arg V=" + hostileArg
	r.Infof("Running %s", step)
	r.Infof("Cache key %s from %d %s (%s)", "3f9c", 1, "file", hostilePath)
	r.Infof("%s", "::error::at the start of a line")
	r.Section("DONE "+step+" (1.0s)", []byte("ok\n::error::in the log\n"+hostileArg+"\nprogress 10%\rprogress 100%\r\n\x1b[32mgreen\x1b[0m\n"))
	r.Annotate(Annotation{Level: Warning, Title: "forged\n::error::title", File: hostilePath, Line: 2, Message: "ARG V=" + hostileArg + "\nsecond line"})
}

func TestReportersEscapeHostileStrings(t *testing.T) {
	t.Parallel()
	t.Run("github", func(t *testing.T) {
		t.Parallel()
		var stdout bytes.Buffer
		hostileRun(t, NewGitHub(&stdout, func(string) string { return "" }))
		out := stdout.String()
		tok := regexp.MustCompile(`::stop-commands::(\S+)`).FindStringSubmatch(out)
		if tok == nil {
			t.Fatalf("no stop-commands around the build log:\n%s", out)
		}
		out = strings.ReplaceAll(out, tok[1], "TOKEN")
		if got, want := runnerCommands(out), []string{"group", "stop-commands", "TOKEN", "endgroup", "warning"}; !slices.Equal(got, want) {
			t.Errorf("the runner would run the commands %q, want only ours, %q; output:\n%s", got, want, out)
		}
		golden(t, "injection.github", out)
	})
	t.Run("gitlab", func(t *testing.T) {
		t.Parallel()
		var log bytes.Buffer
		r := NewGitLab(&log, filepath.Join(t.TempDir(), "ms-build.env"), func() time.Time { return time.Unix(1764000000, 0) })
		hostileRun(t, r)
		markers := gitlabSection.FindAllString(log.String(), -1)
		want := []string{"section_start:1764000000:msb_step_1[collapsed=true]\r\x1b[0K", "section_end:1764000000:msb_step_1\r\x1b[0K"}
		if !slices.Equal(markers, want) {
			t.Errorf("GitLab would see the section markers %q, want only ours, %q", markers, want)
		}
		golden(t, "injection.gitlab", log.String())
	})
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr bytes.Buffer
		hostileRun(t, NewPlain(&stdout, &stderr))
		// Outside the build log, no escape sequence and no carriage return.
		for i, l := range strings.Split(stderr.String(), "\n") {
			if strings.HasPrefix(l, "  ") {
				continue // the build log, indented
			}
			if strings.ContainsAny(l, "\x1b\r\u0085") {
				t.Errorf("line %d holds a control character: %q", i+1, l)
			}
		}
		golden(t, "injection.plain", stderr.String())
	})
}

// gitlabSection is how GitLab finds a section marker in a job log
// (Gitlab::Regex.build_trace_section_regex).
var gitlabSection = regexp.MustCompile(`section_(?:start|end):\d+:[a-zA-Z0-9_.-]+(?:\[\w+=\w+(?:, ?\w+=\w+)*\])?\r\x1b\[0K`)

// runnerCommands reads output as the GitHub runner does and returns the
// commands it would run: lines end at \n or a bare \r; a line is a command
// when it starts with :: after spaces, or holds the legacy ##[ anywhere;
// after stop-commands only the resume token counts.
func runnerCommands(out string) []string {
	var cmds []string
	stop := ""
	for _, l := range regexp.MustCompile(`\r\n|\n|\r`).Split(out, -1) {
		var name string
		if t := strings.TrimLeft(l, " \t"); strings.HasPrefix(t, "::") {
			name, _, _ = strings.Cut(strings.TrimPrefix(t, "::"), "::")
		} else if i := strings.Index(l, "##["); i >= 0 {
			name, _, _ = strings.Cut(l[i+3:], "]")
		} else {
			continue
		}
		name, _, _ = strings.Cut(name, " ")
		switch {
		case stop != "" && name != stop:
			continue
		case stop != "":
			stop = ""
		case name == "stop-commands":
			stop = "TOKEN"
		}
		cmds = append(cmds, name)
	}
	return cmds
}
