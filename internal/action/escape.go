package action

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What the reporters print comes partly from the repository (step names
// with expanded ARG values, dependency-file paths, error text). None of it
// may start or end a workflow command or a job-log section, so every value
// is escaped before it reaches a line:
//
//   - GitHub: the runner ends a line at \n or at a bare \r, runs a line that
//     starts with :: (after spaces) as a command, and runs the legacy form
//     ##[command] found anywhere in a line. Values get the workflow-command
//     escapes (% as %25, \r as %0D, \n as %0A) and every other control
//     character as %XX; in a line that is not a command, ##[ is printed as
//     ##%5B and a leading :: as %3A:.
//   - GitLab: a section marker is section_start:<ts>:<name>\r\e[0K (or
//     section_end): the \r\e[0K suffix is what GitLab looks for. Values
//     get \r, \n, ESC and the other control characters as Go escapes (\r,
//     \n, \x1b), so neither a marker nor a line break can come from them.
//   - Plain (a terminal, or a CI we do not know): the same Go escapes.
//
// Build logs inside a section are the user's own build output and keep
// their colours (ESC): only a bare \r is turned into a line break, which is
// all a section marker needs to be unforgeable on GitLab (its suffix starts
// with \r). On GitHub the log is wrapped in stop-commands as well.

// escapeFunc renders one value for a line.
type escapeFunc func(string) string

// escapeText writes control characters as Go escapes (\r, \n, \x1b,
// \u0085); a tab stays, as does \n when keepNewlines is set (a multi-line
// error message): a line break alone forges nothing on GitLab or a
// terminal.
func escapeText(keepNewlines bool) escapeFunc {
	return func(s string) string {
		if !hasControl(s) {
			return s
		}
		var b strings.Builder
		for _, r := range s {
			switch {
			case r == '\t', keepNewlines && r == '\n':
				b.WriteRune(r)
			case r == '\r':
				b.WriteString(`\r`)
			case r == '\n':
				b.WriteString(`\n`)
			case r < 0x80 && isControl(r):
				fmt.Fprintf(&b, `\x%02x`, r)
			case isControl(r):
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
}

// oneLine is escapeText for a value inside one line.
var oneLine = escapeText(false)

// escapeGitHubData writes a value in workflow-command data form: % \r \n
// as %25 %0D %0A, and every other control character as %XX too (%1B for
// ESC), so nothing in it can end the line or colour it.
func escapeGitHubData(s string) string {
	if !hasControl(s) && !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteRune(r)
		case r == '%' || isControl(r):
			percent(&b, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// percent writes r as %XX, a byte at a time, as the runner decodes it.
func percent(b *strings.Builder, r rune) {
	var buf [utf8.UTFMax]byte
	for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
		fmt.Fprintf(b, "%%%02X", c)
	}
}

// escapeControls is escapeGitHubData without %: for the fields that
// go-githubactions escapes itself (a command's message and properties),
// which must still carry no ESC or other control character.
func escapeControls(keepNewlines bool) escapeFunc {
	return func(s string) string {
		if !hasControl(s) {
			return s
		}
		var b strings.Builder
		for _, r := range s {
			switch {
			case r == '\t', keepNewlines && r == '\n':
				b.WriteRune(r)
			case isControl(r):
				percent(&b, r)
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
}

// gitHubLine makes a whole line that is not a command safe for the runner:
// no legacy ##[ command anywhere, no :: at its start.
func gitHubLine(line string) string {
	line = strings.ReplaceAll(line, "##[", "##%5B")
	if t := strings.TrimLeft(line, " \t"); strings.HasPrefix(t, "::") {
		line = line[:len(line)-len(t)] + "%3A" + t[1:]
	}
	return line
}

// isControl reports the characters a log viewer or terminal may act on:
// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
func isControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r != '\t' && isControl(r) })
}

// escapeArgs wraps every argument so that it is formatted as the verb
// asks, then redacted and escaped: the format string is ours, the
// arguments may come from anywhere.
func escapeArgs(args []any, redact, esc escapeFunc) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = escaped{a, redact, esc}
	}
	return out
}

type escaped struct {
	v           any
	redact, esc escapeFunc
}

func (e escaped) Format(f fmt.State, verb rune) {
	_, _ = io.WriteString(f, e.esc(e.redact(fmt.Sprintf(fmt.FormatString(f, verb), e.v))))
}

// writeLog writes a build log, indented, one line for each \n, \r\n or
// bare \r: no line of it holds a \r, so none can end in a GitLab section
// marker's \r\e[0K, and the GitHub runner (which ends a line at a bare \r
// too) sees the same lines we do.
func writeLog(w io.Writer, body []byte, indent string) {
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	body = bytes.ReplaceAll(body, []byte("\r"), []byte("\n"))
	for line := range bytes.Lines(body) {
		fmt.Fprintf(w, "%s%s\n", indent, bytes.TrimSuffix(line, []byte("\n")))
	}
}
