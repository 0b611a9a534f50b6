package action

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"
	"golang.org/x/term"
)

// Level is an annotation's severity.
type Level int

const (
	Notice Level = iota
	Warning
	Error
)

func (l Level) String() string {
	switch l {
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return "notice"
}

// Annotation is a message that may point at a file and line (a Dockerfile
// instruction, say).
type Annotation struct {
	Level   Level
	Title   string
	File    string
	Line    int
	Message string
}

// Reporter is where a run says what it does and what it made. Every
// implementation redacts masked secrets from everything it writes and none
// panics.
type Reporter interface {
	// Mask registers a secret: from now on it is never written anywhere.
	Mask(secret string)
	// Infof prints one milestone line.
	Infof(format string, args ...any)
	// Annotate prints a notice, warning or error.
	Annotate(a Annotation)
	// Section prints a folded section: a title and its body (build logs).
	Section(title string, body []byte)
	// Status shows a line that the next line replaces, on a terminal, and
	// says whether it did; elsewhere it shows nothing.
	Status(line string) bool
	// Outputs publishes the step's outputs.
	Outputs(o Outputs) error
	// Summary publishes the job summary.
	Summary(s Summary) error
}

// masker replaces registered secrets with *** in what it writes.
type masker struct {
	mu      sync.Mutex
	secrets []string
}

func (m *masker) add(s string) {
	if s == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets = append(m.secrets, s)
}

func (m *masker) redact(s string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sec := range m.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

// writer returns w behind the masker.
func (m *masker) writer(w io.Writer) io.Writer { return redactingWriter{m, w} }

type redactingWriter struct {
	m *masker
	w io.Writer
}

func (r redactingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.m.redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Plain reports to a terminal: progress on stderr, the image reference on
// stdout (for composition: `ref=$(ms-build ...)`).
type Plain struct {
	m              masker
	stdout, stderr io.Writer
	live           bool // stderr is a terminal: Status lines are shown
	mu             sync.Mutex
	status         bool // a Status line is on the screen
}

// NewPlain returns a Reporter for a terminal or any CI it does not know.
func NewPlain(stdout, stderr io.Writer) *Plain {
	p := &Plain{live: terminal(stderr)}
	p.stdout, p.stderr = p.m.writer(stdout), p.m.writer(stderr)
	return p
}

// terminal says whether w is a terminal that takes cursor controls.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("TERM") != "dumb" && term.IsTerminal(int(f.Fd()))
}

// statusWidth bounds a status line, so that it stays on one screen line.
const statusWidth = 100

func (p *Plain) Status(line string) bool {
	if !p.live {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	line = oneLine(p.m.redact(line))
	if r := []rune(line); len(r) > statusWidth {
		line = string(r[:statusWidth-1]) + "…"
	}
	fmt.Fprint(p.stderr, "\r\x1b[K"+line)
	p.status = true
	return true
}

// clearStatus removes a status line before another line is written.
func (p *Plain) clearStatus() {
	if p.status {
		fmt.Fprint(p.stderr, "\r\x1b[K")
		p.status = false
	}
}

func (p *Plain) Mask(secret string) { p.m.add(secret) }

func (p *Plain) Infof(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearStatus()
	fmt.Fprintf(p.stderr, format+"\n", escapeArgs(args, p.m.redact, oneLine)...)
}

func (p *Plain) Annotate(a Annotation) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearStatus()
	a.Message = FlagWording(a.Message) // the CLI's advice names flags
	fmt.Fprintln(p.stderr, plainAnnotation(a, p.m.redact))
}

// plainAnnotation renders an annotation as one line (more when the message
// has several), every field redacted and escaped: "error: " and the message,
// after the file and line it points at ("error: Dockerfile:3: ..."), as a
// compiler does. A title that only names the file is left out.
func plainAnnotation(a Annotation, redact escapeFunc) string {
	a.Title, a.File = oneLine(redact(a.Title)), oneLine(redact(a.File))
	a.Message = escapeText(true)(redact(a.Message))
	var b strings.Builder
	b.WriteString(a.Level.String() + ": ")
	if a.File != "" {
		b.WriteString(a.File)
		if a.Line > 0 {
			fmt.Fprintf(&b, ":%d", a.Line)
		}
		b.WriteString(": ")
		if strings.HasPrefix(path.Base(a.File), a.Title) {
			a.Title = ""
		}
	}
	if a.Title != "" {
		b.WriteString(a.Title + ": ")
	}
	b.WriteString(a.Message)
	return b.String()
}

func (p *Plain) Section(title string, body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearStatus()
	fmt.Fprintln(p.stderr, oneLine(p.m.redact(title)))
	writeLog(p.stderr, body, "  ")
}

func (p *Plain) Outputs(o Outputs) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearStatus()
	ref := o.ImageURI
	if ref == "" {
		ref = o.ImageID
	}
	_, err := fmt.Fprintln(p.stdout, ref)
	return err
}

func (p *Plain) Summary(s Summary) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearStatus()
	_, err := io.WriteString(p.stderr, escapeText(true)(p.m.redact(s.Text())))
	return err
}

// GitHubReporter reports through workflow commands on stdout and the files
// the runner names in GITHUB_OUTPUT and GITHUB_STEP_SUMMARY.
type GitHubReporter struct {
	m      masker
	raw    *githubactions.Action // unredacted: add-mask only
	gh     *githubactions.Action
	w      io.Writer // stdout behind the masker
	getenv func(string) string
	mu     sync.Mutex
}

// NewGitHub returns a Reporter for GitHub Actions (and act).
func NewGitHub(stdout io.Writer, getenv func(string) string) *GitHubReporter {
	r := &GitHubReporter{getenv: getenv}
	r.raw = githubactions.New(githubactions.WithWriter(stdout), githubactions.WithGetenv(getenv))
	r.w = r.m.writer(stdout)
	r.gh = githubactions.New(githubactions.WithWriter(r.w), githubactions.WithGetenv(getenv))
	return r
}

// Mask tells the runner to hide the secret in the job log (the command line
// itself is consumed by the runner, never shown) and redacts it from
// everything this reporter writes.
func (r *GitHubReporter) Mask(secret string) {
	if secret == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = guard(func() { r.raw.AddMask(secret) })
	r.m.add(secret)
}

func (r *GitHubReporter) Infof(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := fmt.Sprintf(format, escapeArgs(args, r.m.redact, escapeGitHubData)...)
	_, _ = io.WriteString(r.w, gitHubLine(line)+"\n")
}

func (r *GitHubReporter) Annotate(a Annotation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// go-githubactions escapes the message and the properties as workflow
	// commands need (% \r \n, and : , in properties); the other control
	// characters are ours to escape.
	field, msg := escapeControls(false), escapeControls(true)
	fields := githubactions.CommandProperties{}
	if a.Title != "" {
		fields["title"] = field(r.m.redact(a.Title))
	}
	if a.File != "" {
		fields["file"] = field(r.m.redact(a.File))
		if a.Line > 0 {
			fields["line"] = fmt.Sprint(a.Line)
		}
	}
	gh := r.gh.WithFieldsMap(fields)
	_ = guard(func() {
		m := msg(r.m.redact(a.Message))
		switch a.Level {
		case Error:
			gh.Errorf("%s", m)
		case Warning:
			gh.Warningf("%s", m)
		default:
			gh.Noticef("%s", m)
		}
	})
}

// Section folds the body in a group. Workflow commands are stopped while the
// body is written, so a build log line cannot act as one (::set-output,
// ::add-path...).
// Status shows nothing: a job log is not a terminal.
func (r *GitHubReporter) Status(string) bool { return false }

func (r *GitHubReporter) Section(title string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	token := rand.Text()
	_ = guard(func() {
		r.gh.Group(escapeControls(false)(r.m.redact(title)))
		r.gh.IssueCommand(&githubactions.Command{Name: "stop-commands", Message: token})
		writeLog(r.w, body, "")
		r.gh.IssueCommand(&githubactions.Command{Name: token})
		r.gh.EndGroup()
	})
}

func (r *GitHubReporter) Outputs(o Outputs) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.getenv("GITHUB_OUTPUT") == "" {
		return fmt.Errorf("writing step outputs: GITHUB_OUTPUT is not set: run inside a GitHub Actions step")
	}
	return guard(func() {
		for _, kv := range o.Pairs() {
			r.gh.SetOutput(kv.Name, r.m.redact(kv.Value))
		}
	})
}

func (r *GitHubReporter) Summary(s Summary) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.getenv("GITHUB_STEP_SUMMARY") == "" {
		return nil // no summary file on this runner (older act): nothing to do
	}
	return guard(func() { r.gh.AddStepSummary(r.m.redact(s.Markdown())) })
}

// guard turns go-githubactions' panics (a file it cannot write) into errors.
func guard(f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("writing to the runner: %v", p)
		}
	}()
	f()
	return nil
}
