package tags

import (
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Ref is what a run builds, as the rules see it. The front end fills it from
// its CI (or, on a laptop, from git).
type Ref struct {
	SHA    string // the full commit sha; "" when unknown
	Branch string // the branch built; "" for a tag, a pull request, a detached head
	Tag    string // the git tag built; ""
	// PullRequest is the pull or merge request's number, "" when the run
	// builds none ("?" when it builds one whose number is unknown).
	PullRequest   string
	DefaultBranch string
	BaseBranch    string // the branch a pull request merges into
}

// Resolved is what the tags input comes to for one ref.
type Resolved struct {
	// Tags in order: the rules' by priority (metadata-action's), then latest
	// when a rule asked for it. Empty when the input was empty.
	Tags []string
	// Version is the semantic version the ref stands for (its git tag, or a
	// semver rule's value), when it is one; a rule-less input gets it too.
	Version *Version
	// Notices say what a rule skipped (a git tag that is not semver).
	Notices []string
}

// Error is a line of the tags input that cannot be used.
type Error struct {
	Line int
	Text string // the line, shortened for messages
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d (%s): %s", e.Line, e.Text, e.Msg) }

// Types are the rule types ms-build supports, a subset of metadata-action's.
var Types = []string{"raw", "sha", "ref", "semver"}

// keys are the attributes each type takes beside the common ones.
var keys = map[string][]string{
	"raw":    {"value"},
	"sha":    {"format"},
	"ref":    {"event"},
	"semver": {"pattern", "value"},
}

var commonKeys = []string{"type", "enable", "priority", "prefix", "suffix"}

// priorities are metadata-action's defaults: a higher one comes first.
var priorities = map[string]int{"semver": 900, "ref": 600, "raw": 200, "sha": 100}

// rule is one parsed line; a plain line is raw rules, one per tag.
type rule struct {
	line     int
	text     string
	typ      string
	attrs    map[string]string
	priority int
}

// Resolve reads the tags input (one tag a line or comma separated, or
// metadata-action's rule lines, mixed as wanted) and resolves it for ref.
func Resolve(input string, ref Ref) (Resolved, error) {
	rules, err := parse(input)
	if err != nil {
		return Resolved{}, err
	}
	var out Resolved
	if v, ok := ParseVersion(strings.TrimPrefix(ref.Tag, "refs/tags/")); ok && ref.Tag != "" {
		out.Version = &v
	}
	slices.SortStableFunc(rules, func(a, b rule) int { return b.priority - a.priority })
	latest := false
	for _, r := range rules {
		got, auto, err := r.resolve(ref, &out)
		if err != nil {
			return Resolved{}, err
		}
		latest = latest || auto
		for _, t := range got {
			if !slices.Contains(out.Tags, t) {
				out.Tags = append(out.Tags, t)
			}
		}
	}
	if latest && !slices.Contains(out.Tags, "latest") {
		out.Tags = append(out.Tags, "latest")
	}
	return out, nil
}

// parse splits the input into rules: a line with '=' is a rule line, any
// other holds plain tags, one a line or comma separated.
func parse(input string) ([]rule, error) {
	var rules []rule
	n := 0
	for line := range strings.Lines(input) {
		n++
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !strings.Contains(line, "=") {
			for _, t := range strings.Split(line, ",") {
				if t = strings.TrimSpace(t); t != "" {
					rules = append(rules, rule{line: n, text: short(line), typ: "plain", attrs: map[string]string{"value": t}, priority: priorities["raw"]})
				}
			}
			continue
		}
		r, err := parseRule(n, line)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// parseRule reads one rule line: comma-separated key=value fields (CSV, so
// a field may be quoted); a field without '=' is the value.
func parseRule(n int, line string) (rule, error) {
	r := rule{line: n, text: short(line), attrs: map[string]string{}}
	cr := csv.NewReader(strings.NewReader(line))
	cr.LazyQuotes, cr.TrimLeadingSpace, cr.FieldsPerRecord = true, true, -1
	fields, err := cr.Read()
	if err != nil {
		return r, r.errorf("not a rule line: write comma-separated key=value fields, e.g. type=semver,pattern={{version}}")
	}
	for _, f := range fields {
		key, value, ok := strings.Cut(f, "=")
		key, value = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(value)
		if !ok {
			key, value = "value", strings.TrimSpace(f)
		}
		if _, dup := r.attrs[key]; dup {
			return r, r.errorf("%s is given twice: give each key once", key)
		}
		r.attrs[key] = value
	}
	r.typ = r.attrs["type"]
	if r.typ == "" {
		r.typ = "raw"
	}
	if _, ok := keys[r.typ]; !ok {
		return r, r.errorf("type=%s is not a rule type ms-build supports: use %s", short(r.typ), strings.Join(Types, ", "))
	}
	for k := range r.attrs {
		if !slices.Contains(commonKeys, k) && !slices.Contains(keys[r.typ], k) {
			return r, r.errorf("%s is not a key of type=%s: it takes %s", short(k), r.typ, strings.Join(append(slices.Clone(commonKeys[1:]), keys[r.typ]...), ", "))
		}
	}
	return r, r.defaults()
}

// defaults checks the type's own keys and fills metadata-action's defaults.
func (r *rule) defaults() error {
	a := r.attrs
	r.priority = priorities[r.typ]
	if p, ok := a["priority"]; ok {
		n, err := strconv.Atoi(p)
		if err != nil {
			return r.errorf("priority=%s is not a whole number", short(p))
		}
		r.priority = n
	}
	switch r.typ {
	case "raw":
		if _, ok := a["value"]; !ok {
			return r.errorf("type=raw needs a value, e.g. type=raw,value=stable")
		}
	case "sha":
		if _, ok := a["prefix"]; !ok {
			a["prefix"] = "sha-"
		}
		if f := a["format"]; f != "" && f != "short" && f != "long" {
			return r.errorf("format=%s is not a sha format: use short or long", short(f))
		}
	case "ref":
		switch a["event"] {
		case "branch", "tag":
		case "pr":
			if _, ok := a["prefix"]; !ok {
				a["prefix"] = "pr-"
			}
		default:
			return r.errorf("type=ref needs event=branch, event=tag or event=pr")
		}
	case "semver":
		if a["pattern"] == "" {
			return r.errorf("type=semver needs a pattern, e.g. pattern={{version}} or pattern={{major}}.{{minor}}")
		}
	}
	return nil
}

func (r *rule) errorf(format string, args ...any) error {
	return &Error{Line: r.line, Text: r.text, Msg: fmt.Sprintf(format, args...)}
}

// short quotes s for a message, at most 60 characters of it.
func short(s string) string {
	if len(s) > 60 {
		return strconv.Quote(s[:60]) + "..."
	}
	return strconv.Quote(s)
}
