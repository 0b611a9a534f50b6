package action

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the labels and annotations inputs. Labels travel to the engine
// in the build request's URL, which dockerd reads with Go's 1 MiB header
// limit, and annotations in the manifest, which ECR caps at 4 MiB and the
// skip record carries again: 64 KiB an input keeps both far away.
const (
	maxMetadataKey   = 256
	maxMetadataBytes = 64 << 10
)

// metadata reads the labels and annotations inputs.
func (p *parser) metadata() error {
	var err error
	if p.in.Labels, err = parseKeyValues("labels", p.raw["labels"]); err != nil {
		return err
	}
	p.in.Annotations, err = parseKeyValues("annotations", p.raw["annotations"])
	return err
}

// parseKeyValues reads one KEY=VALUE a line; blank lines and lines starting
// with # are skipped. The key is trimmed; the value is kept as given (only a
// line's \r\n is dropped): it cannot hold a newline, which separates lines.
// A line without =, an empty key, a key given twice, a control character or
// a value over the limits is refused, naming the line and never quoting a
// whole value.
func parseKeyValues(input, v string) (map[string]string, error) {
	if len(v) > maxMetadataBytes {
		return nil, inputErr(input, "%d bytes given, over the limit of %d: keep %s short (link to long texts)", len(v), maxMetadataBytes, input)
	}
	out := map[string]string{}
	firstLine := map[string]int{}
	n := 0
	for line := range strings.Lines(v) {
		n++
		line = strings.TrimRight(strings.TrimLeft(line, " \t"), "\r\n")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		switch {
		case !ok:
			return nil, inputErr(input, "line %d (%s) has no '=': write one KEY=VALUE a line", n, clip(key))
		case key == "":
			return nil, inputErr(input, "line %d has an empty key: write one KEY=VALUE a line, e.g. org.opencontainers.image.vendor=Acme", n)
		case len(key) > maxMetadataKey:
			return nil, inputErr(input, "line %d: the key %s is longer than %d bytes: use a short reverse-DNS key, e.g. com.example.team", n, clip(key), maxMetadataKey)
		case !metadataKeyRE.MatchString(key):
			return nil, inputErr(input, "line %d: the key %s holds a space, a control character or a quote: use letters, digits and . - _ / in a reverse-DNS key, e.g. com.example.team", n, clip(key))
		case !utf8.ValidString(value) || strings.ContainsFunc(value, func(r rune) bool { return unicode.IsControl(r) && r != '\t' }):
			return nil, inputErr(input, "line %d: the value of %s holds a control character or invalid UTF-8: give plain text", n, key)
		}
		if first, dup := firstLine[key]; dup {
			return nil, inputErr(input, "%s is given twice (lines %d and %d): give each key once", key, first, n)
		}
		firstLine[key] = n
		out[key] = value
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// metadataKeyRE is what a label or annotation key may hold: printable text
// with no space, quote, backslash or '=' (the separator). Docker and the
// OCI spec take any string; these are the ones that survive every shell,
// YAML file and CLI flag a key passes through.
var metadataKeyRE = regexp.MustCompile(`^[^\s"'\\=\p{C}]+$`)

// clip quotes s for a message, cut to 64 bytes.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}
