package action

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// GitLabReporter reports to a GitLab CI job log (collapsible sections) and
// writes the outputs as a dotenv report (artifacts:reports:dotenv), so later
// jobs get them as MSB_<NAME> variables.
type GitLabReporter struct {
	m        masker
	w        io.Writer // the job log, behind the masker
	dotenv   string    // path of the dotenv report
	now      func() time.Time
	mu       sync.Mutex
	sections int
}

// DotenvName is the variable an output is published as in the dotenv
// report: MSB_ and the name in upper case, - as _.
func DotenvName(output string) string {
	return "MSB_" + strings.ToUpper(strings.ReplaceAll(output, "-", "_"))
}

// NewGitLab returns a Reporter for GitLab CI that writes the dotenv report
// to dotenvPath.
func NewGitLab(stdout io.Writer, dotenvPath string, now func() time.Time) *GitLabReporter {
	r := &GitLabReporter{dotenv: dotenvPath, now: now}
	r.w = r.m.writer(stdout)
	return r
}

func (r *GitLabReporter) Mask(secret string) { r.m.add(secret) }

func (r *GitLabReporter) Infof(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, format+"\n", escapeArgs(args, r.m.redact, oneLine)...)
}

// Annotate prints the message with its place; errors and warnings in
// colour, as GitLab's log shows ANSI colours.
func (r *GitLabReporter) Annotate(a Annotation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	color := map[Level]string{Notice: "\x1b[36m", Warning: "\x1b[33m", Error: "\x1b[31;1m"}[a.Level]
	fmt.Fprintf(r.w, "%s%s\x1b[0m\n", color, plainAnnotation(a, r.m.redact))
}

// Section folds the body in a collapsed section of the job log.
func (r *GitLabReporter) Section(title string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sections++
	name := fmt.Sprintf("msb_step_%d", r.sections)
	fmt.Fprintf(r.w, "\x1b[0Ksection_start:%d:%s[collapsed=true]\r\x1b[0K%s\n", r.now().Unix(), name, oneLine(r.m.redact(title)))
	writeLog(r.w, body, "")
	fmt.Fprintf(r.w, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", r.now().Unix(), name)
}

// Outputs writes the dotenv report. GitLab's dotenv values are single
// lines: tags are comma separated.
func (r *GitLabReporter) Outputs(o Outputs) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, kv := range o.Pairs() {
		v := kv.Value
		if kv.Name == "tags" {
			v = strings.Join(o.Tags, ",")
		}
		fmt.Fprintf(&b, "%s=%s\n", DotenvName(kv.Name), r.m.redact(v))
	}
	if err := os.WriteFile(r.dotenv, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the dotenv report: %w", err)
	}
	fmt.Fprintf(r.w, "Wrote the outputs to %s (artifacts:reports:dotenv)\n", oneLine(r.dotenv))
	return nil
}

// Summary prints the summary in a section of its own.
func (r *GitLabReporter) Summary(s Summary) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := "msb_summary"
	fmt.Fprintf(r.w, "\x1b[0Ksection_start:%d:%s\r\x1b[0Kms-build summary\n%s", r.now().Unix(), name, escapeText(true)(r.m.redact(s.Text(true))))
	fmt.Fprintf(r.w, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", r.now().Unix(), name)
	return nil
}
