package tags

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sha = "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4"

var (
	onMain    = Ref{SHA: sha, Branch: "main", DefaultBranch: "main"}
	onFeature = Ref{SHA: sha, Branch: "feature/x", DefaultBranch: "main"}
	onPR      = Ref{SHA: sha, PullRequest: "12", DefaultBranch: "main", BaseBranch: "main"}
	onRelease = Ref{SHA: sha, Tag: "v1.4.2", DefaultBranch: "main"}
	onPre     = Ref{SHA: sha, Tag: "v2.0.8-beta.67", DefaultBranch: "main"}
	onOddTag  = Ref{SHA: sha, Tag: "release1", DefaultBranch: "main"}
)

// metadataAction is the rule set metadata-action's README shows most.
const metadataAction = `type=ref,event=branch
type=ref,event=pr
type=semver,pattern={{version}}
type=semver,pattern={{major}}.{{minor}}
type=semver,pattern={{major}}
type=sha`

func TestResolve(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		input string
		ref   Ref
		want  []string
	}{
		{name: "plain tags, lines and commas", input: "v1, stable\nnightly\n\n# a comment\n", ref: onMain, want: []string{"v1", "stable", "nightly"}},
		{name: "empty", input: " \n", ref: onMain},
		{name: "rules on the default branch", input: metadataAction, ref: onMain, want: []string{"main", "sha-4f2b9b6"}},
		{name: "rules on a branch with a slash", input: metadataAction, ref: onFeature, want: []string{"feature-x", "sha-4f2b9b6"}},
		{name: "rules on a pull request", input: metadataAction, ref: onPR, want: []string{"pr-12", "sha-4f2b9b6"}},
		{name: "rules on a release tag", input: metadataAction, ref: onRelease, want: []string{"1.4.2", "1.4", "1", "sha-4f2b9b6", "latest"}},
		{name: "rules on a pre-release tag", input: metadataAction, ref: onPre, want: []string{"2.0.8-beta.67", "sha-4f2b9b6"}},
		{name: "rules on a tag that is not semver", input: metadataAction, ref: onOddTag, want: []string{"sha-4f2b9b6"}},
		{name: "ref tag on a release", input: "type=ref,event=tag", ref: onRelease, want: []string{"v1.4.2", "latest"}},
		{name: "ref tag on a tag that is not semver: no latest", input: "type=ref,event=tag", ref: onOddTag, want: []string{"release1"}},
		{name: "pull request of unknown number", input: "type=ref,event=pr", ref: Ref{SHA: sha, PullRequest: "?"}},
		{name: "sha long", input: "type=sha,format=long", ref: onMain, want: []string{"sha-" + sha}},
		{name: "sha with a prefix", input: "type=sha,prefix=", ref: onMain, want: []string{"4f2b9b6"}},
		{name: "sha with the branch as prefix", input: "type=sha,prefix={{branch}}-", ref: onFeature, want: []string{"feature-x-4f2b9b6"}},
		{name: "raw", input: "type=raw,value=stable\ntype=raw,edge", ref: onMain, want: []string{"stable", "edge"}},
		{name: "latest on the default branch", input: "type=raw,value=latest,enable={{is_default_branch}}", ref: onMain, want: []string{"latest"}},
		{name: "latest not on another branch", input: "type=raw,value=latest,enable={{is_default_branch}}", ref: onFeature},
		{name: "is_not_default_branch", input: "type=raw,value=dev,enable={{ is_not_default_branch }}", ref: onFeature, want: []string{"dev"}},
		{name: "enable false", input: "type=sha,enable=false\ntype=raw,value=a,enable=TRUE", ref: onMain, want: []string{"a"}},
		{name: "prefix and suffix", input: "type=semver,pattern={{version}},prefix=api-,suffix=-alpine", ref: onRelease, want: []string{"api-1.4.2-alpine", "latest"}},
		{name: "v prefix in the pattern", input: "type=semver,pattern=v{{major}}", ref: onRelease, want: []string{"v1", "latest"}},
		{name: "raw pattern on a pre-release", input: "type=semver,pattern={{raw}}\ntype=semver,pattern={{major}}", ref: onPre, want: []string{"v2.0.8-beta.67", "2.0.8-beta.67"}},
		{name: "semver from a value", input: "type=semver,pattern={{major}}.{{minor}},value=3.1.0", ref: onMain, want: []string{"3.1", "latest"}},
		{name: "priority orders", input: "type=sha\ntype=raw,value=first,priority=1000\nplain", ref: onMain, want: []string{"first", "plain", "sha-4f2b9b6"}},
		{name: "duplicates once", input: "type=raw,value=main\ntype=ref,event=branch\nmain", ref: onMain, want: []string{"main"}},
		{name: "quoted field", input: `type=raw,"value=a b"`, ref: onMain, want: []string{"a-b"}},
		{name: "hostile branch: percent, colons, quotes", input: "type=ref,event=branch", ref: Ref{Branch: "fix/%0A::set-output \"x\""}, want: []string{"fix-0A-set-output-x-"}},
		{name: "hostile branch: newline", input: "type=ref,event=branch", ref: Ref{Branch: "a\nb"}, want: []string{"a-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Resolve(tc.input, tc.ref)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if diff := cmp.Diff(tc.want, got.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("b", 200)
	for _, tc := range []struct {
		name, input string
		ref         Ref
		want        string // in the message
	}{
		{name: "unknown type", input: "type=schedule", want: `type="schedule" is not a rule type ms-build supports: use raw, sha, ref, semver`},
		{name: "unknown key", input: "type=sha,length=9", want: `"length" is not a key of type=sha`},
		{name: "key of another type", input: "type=raw,value=a,event=branch", want: `"event" is not a key of type=raw`},
		{name: "ref without event", input: "type=ref", want: "needs event=branch, event=tag or event=pr"},
		{name: "ref with another event", input: "type=ref,event=push", want: "needs event=branch"},
		{name: "semver without pattern", input: "type=semver", want: "needs a pattern"},
		{name: "raw without value", input: "type=raw", want: "type=raw needs a value"},
		{name: "bad format", input: "type=sha,format=medium", want: "not a sha format"},
		{name: "bad priority", input: "type=sha,priority=high", want: "not a whole number"},
		{name: "twice", input: "type=raw,value=a,value=b", want: "value is given twice"},
		{name: "enable not a boolean", input: "type=sha,enable={{branch}}", ref: onMain, want: `enable="{{branch}}" is not true or false (after its expressions: "main")`},
		{name: "unknown expression", input: "type=raw,value={{date 'YYYYMMDD'}}", want: `"{{date 'YYYYMMDD'}}" is not an expression ms-build supports here`},
		{name: "very long branch", input: "type=ref,event=branch", ref: Ref{Branch: long}, want: "is not a valid tag"},
		{name: "starts with a dash", input: "type=ref,event=branch", ref: Ref{Branch: "/x"}, want: `yields "-x", which is not a valid tag`},
		{name: "line number", input: "a\n\ntype=nope", want: "line 3 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Resolve(tc.input, tc.ref)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Resolve = %v, want an *Error", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || len(msg) > 400 {
				t.Errorf("error %q\nwant one line holding %q", msg, tc.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"1.2", "v1", "1.2.3.4", "01.2.3", "1.2.3-", "release1", ""} {
		if _, ok := ParseVersion(s); ok {
			t.Errorf("ParseVersion(%q) ok, want not a version", s)
		}
	}
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "v1.0.1", "1.1.0", "2.0.0+build.5", "10.0.0"}
	for i := 1; i < len(order); i++ {
		a, _ := ParseVersion(order[i-1])
		b, ok := ParseVersion(order[i])
		if !ok || a.Compare(b) != -1 || b.Compare(a) != 1 {
			t.Errorf("%s < %s: Compare = %d (ok %v)", order[i-1], order[i], a.Compare(b), ok)
		}
	}
	if v, _ := ParseVersion("v9.5.7-alpha.2+fork.3"); v.String() != "9.5.7-alpha.2" || v.Release() {
		t.Errorf("ParseVersion(v9.5.7-alpha.2+fork.3) = %s, release %v", v.String(), v.Release())
	}
}

func TestHigher(t *testing.T) {
	t.Parallel()
	v := func(s string) Version { x, _ := ParseVersion(s); return x }
	repo := []string{"latest", "sha-4f2b9b6", "1.4.2", "1.4", "1", "1.3.4", "v2.0.0-rc.1", "buildcache-abc", "msb-skip-1", "app-1.9.0"}
	for _, tc := range []struct {
		name    string
		release string
		own     []string
		want    string
	}{
		{name: "backport of an older line", release: "1.3.5", own: []string{"1.3.5", "1.3", "1"}, want: "1.4.2"},
		{name: "the highest", release: "1.4.3", own: []string{"1.4.3"}},
		{name: "the same again", release: "1.4.2", own: []string{"1.4.2"}},
		{name: "a pre-release is not a release", release: "1.5.0", own: []string{"1.5.0"}},
		{name: "v-prefixed tags count", release: "0.9.0", own: []string{"v0.9.0"}, want: "1.4.2"},
		{name: "the run's own prefix", release: "1.5.0", own: []string{"app-1.5.0"}, want: "app-1.9.0"},
		{name: "another prefix does not count", release: "1.5.0", own: []string{"1.5.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Higher(v(tc.release), tc.own, repo); got != tc.want {
				t.Errorf("Higher(%s) = %q, want %q", tc.release, got, tc.want)
			}
		})
	}
}
