package tags

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
)

// resolve is the tags one rule yields for ref, and whether it asks for
// latest as metadata-action's latest=auto would: a semver rule, or a
// type=ref,event=tag rule, on a release (never a pre-release; and, unlike
// metadata-action, never a git tag that is not a semantic version).
func (r rule) resolve(ref Ref, out *Resolved) ([]string, bool, error) {
	if r.typ == "plain" {
		return []string{r.attrs["value"]}, false, nil
	}
	g := globals(ref)
	enable, err := r.expand(r.attrs["enable"], g)
	if err != nil {
		return nil, false, err
	}
	switch strings.ToLower(enable) {
	case "", "true":
	case "false":
		return nil, false, nil
	default:
		return nil, false, r.errorf("enable=%s is not true or false (after its expressions: %s)", short(r.attrs["enable"]), short(enable))
	}
	value, auto, ok, err := r.value(ref, g, out)
	if err != nil || !ok {
		return nil, false, err
	}
	tag, err := r.affix(value, g)
	if err != nil {
		return nil, false, err
	}
	return []string{tag}, auto, nil
}

// value is the rule's value before its prefix and suffix; ok is false when
// the rule yields nothing for this ref.
func (r rule) value(ref Ref, g map[string]string, out *Resolved) (value string, auto, ok bool, err error) {
	a := r.attrs
	switch {
	case r.typ == "raw":
		value, err = r.expand(a["value"], g)
		return value, false, value != "", err
	case r.typ == "sha":
		if a["format"] != "long" && len(ref.SHA) > 7 {
			return ref.SHA[:7], false, true, nil
		}
		return ref.SHA, false, ref.SHA != "", nil
	case a["event"] == "branch":
		return ref.Branch, false, ref.Branch != "", nil
	case a["event"] == "tag":
		return ref.Tag, out.Version != nil && out.Version.Release(), ref.Tag != "", nil
	case a["event"] == "pr":
		ok := ref.PullRequest != "" && ref.PullRequest != "?"
		return ref.PullRequest, false, ok, nil
	}
	return r.semver(ref, g, out)
}

// semver renders the pattern from the git tag (or the rule's value). A
// pre-release yields only its {{version}} (or {{raw}}), as metadata-action
// does; a value that is not a semantic version yields nothing.
func (r rule) semver(ref Ref, g map[string]string, out *Resolved) (string, bool, bool, error) {
	raw := ref.Tag
	if v, ok := r.attrs["value"]; ok && v != "" {
		var err error
		if raw, err = r.expand(v, g); err != nil {
			return "", false, false, err
		}
	}
	if raw == "" {
		return "", false, false, nil
	}
	raw = strings.ReplaceAll(raw, "/", "-")
	v, ok := ParseVersion(raw)
	if !ok {
		out.Notices = append(out.Notices, fmt.Sprintf("tags: line %d: %s is not a semantic version (semver.org, e.g. v1.4.2): the rule yields no tag", r.line, short(raw)))
		return "", false, false, nil
	}
	if out.Version == nil {
		out.Version = &v
	}
	pattern := r.attrs["pattern"]
	if !v.Release() {
		if strings.ReplaceAll(pattern, " ", "") != "{{raw}}" {
			pattern = "{{version}}"
		}
	}
	s, err := r.expand(pattern, map[string]string{
		"raw": raw, "version": v.String(),
		"major": fmt.Sprint(v.Major), "minor": fmt.Sprint(v.Minor), "patch": fmt.Sprint(v.Patch),
	})
	return s, v.Release(), s != "", err
}

// affix adds the prefix and suffix, sanitizes the tag as metadata-action
// does and checks that the registry will take it.
func (r rule) affix(value string, g map[string]string) (string, error) {
	prefix, err := r.expand(r.attrs["prefix"], g)
	if err != nil {
		return "", err
	}
	suffix, err := r.expand(r.attrs["suffix"], g)
	if err != nil {
		return "", err
	}
	tag := Sanitize(prefix + value + suffix)
	if !Valid(tag) {
		return "", r.errorf("yields %s, which is not a valid tag (up to 128 letters, digits, _ . -, not starting with . or -): change the rule, or add a prefix", short(tag))
	}
	return tag, nil
}

// globals are metadata-action's global expressions, as far as ms-build
// supports them.
func globals(ref Ref) map[string]string {
	short := ref.SHA
	if len(short) > 7 {
		short = short[:7]
	}
	def := "false"
	if ref.Branch != "" && ref.Branch == ref.DefaultBranch {
		def = "true"
	}
	notDef := map[string]string{"true": "false", "false": "true"}[def]
	return map[string]string{
		"branch": ref.Branch, "tag": ref.Tag, "sha": short, "base_ref": ref.BaseBranch,
		"is_default_branch": def, "is_not_default_branch": notDef,
	}
}

var exprRE = regexp.MustCompile(`\{\{([^{}]*)\}\}`)

// expand replaces each {{name}} in s by vars[name]; an unknown expression
// is an error that lists the known ones.
func (r rule) expand(s string, vars map[string]string) (string, error) {
	var bad string
	out := exprRE.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.TrimSpace(m[2 : len(m)-2])
		v, ok := vars[name]
		if !ok && bad == "" {
			bad = m
		}
		return v
	})
	if bad != "" {
		var names []string
		for _, n := range []string{"branch", "tag", "sha", "base_ref", "is_default_branch", "is_not_default_branch", "raw", "version", "major", "minor", "patch"} {
			if _, ok := vars[n]; ok {
				names = append(names, "{{"+n+"}}")
			}
		}
		return "", r.errorf("%s is not an expression ms-build supports here: use %s", short(bad), strings.Join(names, ", "))
	}
	return out, nil
}

var invalidRE = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// Sanitize replaces each run of characters a tag may not hold with '-', as
// metadata-action does: feature/x becomes feature-x.
func Sanitize(s string) string { return invalidRE.ReplaceAllString(s, "-") }

var tagRE = regexp.MustCompile(`^(?:` + reference.TagRegexp.String() + `)$`)

// Valid reports whether s is a tag a registry takes: up to 128 letters,
// digits, _ . -, not starting with . or -.
func Valid(s string) bool { return tagRE.MatchString(s) }
