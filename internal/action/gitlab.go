package action

import (
	"fmt"
	"io"
	"os"
	"slices"
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
// Status shows nothing: a job log is not a terminal.
func (r *GitLabReporter) Status(string) bool { return false }

func (r *GitLabReporter) Section(title string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sections++
	name := fmt.Sprintf("msb_step_%d", r.sections)
	fmt.Fprintf(r.w, "\x1b[0Ksection_start:%d:%s[collapsed=true]\r\x1b[0K%s\n", r.now().Unix(), name, oneLine(r.m.redact(title)))
	writeLog(r.w, body, "")
	fmt.Fprintf(r.w, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", r.now().Unix(), name)
}

// DotenvLimit is the size a dotenv report must stay under: GitLab refuses a
// larger one (the instance limit dotenv_size, 5 KiB by default and on
// gitlab.com), and with it every variable it holds.
const DotenvLimit = 5120

// Outputs writes the dotenv report. GitLab's dotenv values are single
// lines: tags are comma separated. A report that would not fit GitLab's
// limit drops metadata (which repeats every output), then the tags that do
// not fit, then the longest values, and says so in the log.
func (r *GitLabReporter) Outputs(o Outputs) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var lines []dotenvLine
	for _, kv := range o.Pairs() {
		v := kv.Value
		if kv.Name == "tags" {
			v = strings.Join(o.Tags, ",")
		}
		lines = append(lines, dotenvLine{DotenvName(kv.Name), oneLine(r.m.redact(v))})
	}
	lines, dropped := fitDotenv(lines, DotenvLimit-1)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.String())
	}
	if err := os.WriteFile(r.dotenv, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing the dotenv report: %w", err)
	}
	fmt.Fprintf(r.w, "Wrote the outputs to %s (artifacts:reports:dotenv)\n", oneLine(r.dotenv))
	if len(dropped) > 0 {
		fmt.Fprintf(r.w, "\x1b[36m%s\x1b[0m\n", plainAnnotation(Annotation{Level: Notice, Title: "dotenv report",
			Message: fmt.Sprintf("GitLab refuses a dotenv report of %d bytes or more, and with it every variable: %s (the other MSB_ variables hold what metadata repeats, and the log above names every tag pushed)", DotenvLimit, strings.Join(dropped, "; "))}, r.m.redact))
	}
	return nil
}

type dotenvLine struct{ name, value string }

func (l dotenvLine) String() string { return l.name + "=" + l.value + "\n" }

// fitDotenv keeps lines within max bytes, saying what it dropped or cut:
// MSB_METADATA first, then the tags that do not fit (whole ones, in order),
// then the longest values, emptied.
func fitDotenv(lines []dotenvLine, max int) ([]dotenvLine, []string) {
	size := func() int {
		n := 0
		for _, l := range lines {
			n += len(l.String())
		}
		return n
	}
	var dropped []string
	if size() > max {
		lines = slices.DeleteFunc(lines, func(l dotenvLine) bool { return l.name == DotenvName("metadata") })
		dropped = append(dropped, DotenvName("metadata")+" was left out")
	}
	if i := slices.IndexFunc(lines, func(l dotenvLine) bool { return l.name == DotenvName("tags") }); i >= 0 && size() > max {
		tags := strings.Split(lines[i].value, ",")
		room := max - (size() - len(lines[i].value))
		kept := 0
		for n := 0; kept < len(tags) && n+len(tags[kept]) <= room; kept++ {
			n += len(tags[kept]) + 1
		}
		lines[i].value = strings.Join(tags[:kept], ",")
		dropped = append(dropped, fmt.Sprintf("%s lists the first %d of the %d tags", lines[i].name, kept, len(tags)))
	}
	for size() > max {
		i := 0
		for j := range lines {
			if len(lines[j].value) > len(lines[i].value) {
				i = j
			}
		}
		lines[i].value = ""
		dropped = append(dropped, lines[i].name+" was emptied")
	}
	return lines, dropped
}

// Summary prints the summary in a section of its own.
func (r *GitLabReporter) Summary(s Summary) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := "msb_summary"
	fmt.Fprintf(r.w, "\x1b[0Ksection_start:%d:%s\r\x1b[0Kms-build summary\n%s", r.now().Unix(), name, escapeText(true)(r.m.redact(s.Text())))
	fmt.Fprintf(r.w, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", r.now().Unix(), name)
	return nil
}
