package ecrlocal

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidateLifecyclePolicy(t *testing.T) {
	t.Parallel()
	rule := func(priority int, selection string) string {
		return `{"rulePriority":` + strconv.Itoa(priority) + `,"selection":` + selection + `,"action":{"type":"expire"}}`
	}
	policy := func(rules ...string) string { return `{"rules":[` + strings.Join(rules, ",") + `]}` }
	tagged := `{"tagStatus":"tagged","tagPrefixList":["cache-"],"countType":"imageCountMoreThan","countNumber":5}`
	untaggedDays := `{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7}`
	anyCount := `{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":100}`

	for _, tc := range []struct {
		name    string
		text    string
		wantErr string // substring; "" means valid
	}{
		{name: "tagged prefix", text: policy(rule(1, tagged))},
		{name: "three rules, any last", text: policy(rule(1, tagged), rule(2, untaggedDays), rule(3, anyCount))},
		{name: "tag pattern", text: policy(rule(1, `{"tagStatus":"tagged","tagPatternList":["*-cache-*"],"countType":"imageCountMoreThan","countNumber":1}`))},
		{name: "not json", text: "rules", wantErr: "not a JSON object"},
		{name: "trailing content", text: policy(rule(1, tagged)) + "{}", wantErr: "content after"},
		{name: "no rules", text: `{"rules":[]}`, wantErr: "'rules' must be a non-empty array"},
		{name: "rules missing", text: `{}`, wantErr: "'rules' must be a non-empty array"},
		{name: "unknown field", text: `{"rules":[],"extra":1}`, wantErr: "not a JSON object of the expected shape"},
		{name: "priority zero", text: policy(rule(0, tagged)), wantErr: "rules[0].rulePriority must be a positive integer"},
		{name: "duplicate priority", text: policy(rule(1, tagged), rule(1, untaggedDays)), wantErr: "rules[1].rulePriority 1 is used by another rule"},
		{name: "tagged without list", text: policy(rule(1, `{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1}`)), wantErr: "exactly one of tagPrefixList and tagPatternList"},
		{name: "tagged with both lists", text: policy(rule(1, `{"tagStatus":"tagged","tagPrefixList":["a"],"tagPatternList":["b*"],"countType":"imageCountMoreThan","countNumber":1}`)), wantErr: "exactly one of"},
		{name: "too many wildcards", text: policy(rule(1, `{"tagStatus":"tagged","tagPatternList":["*a*b*c*d*"],"countType":"imageCountMoreThan","countNumber":1}`)), wantErr: "at most 4 wildcards"},
		{name: "untagged with list", text: policy(rule(1, `{"tagStatus":"untagged","tagPrefixList":["a"],"countType":"imageCountMoreThan","countNumber":1}`)), wantErr: "allowed only with tagStatus tagged"},
		{name: "bad tag status", text: policy(rule(1, `{"tagStatus":"all","countType":"imageCountMoreThan","countNumber":1}`)), wantErr: "tagStatus must be one of tagged, untagged, any"},
		{name: "bad count type", text: policy(rule(1, `{"tagStatus":"untagged","countType":"imageCountLessThan","countNumber":1}`)), wantErr: "countType must be one of"},
		{name: "days without unit", text: policy(rule(1, `{"tagStatus":"untagged","countType":"sinceImagePushed","countNumber":1}`)), wantErr: "countUnit must be days"},
		{name: "unit with count", text: policy(rule(1, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countUnit":"days","countNumber":1}`)), wantErr: "countUnit is allowed only with countType sinceImagePushed"},
		{name: "fractional count", text: policy(rule(1, `{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1.5}`)), wantErr: "countNumber must be a positive integer"},
		{name: "other action", text: `{"rules":[{"rulePriority":1,"selection":` + untaggedDays + `,"action":{"type":"archive"}}]}`, wantErr: "action.type must be expire"},
		{name: "no selection", text: `{"rules":[{"rulePriority":1,"action":{"type":"expire"}}]}`, wantErr: "rules[0].selection is required"},
		{name: "any not last", text: policy(rule(1, anyCount), rule(2, tagged)), wantErr: "tagStatus any must have the highest rulePriority"},
		{name: "too long", text: strings.Repeat(" ", maxLifecyclePolicyBytes+1), wantErr: "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := validateLifecyclePolicy(tc.text)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("validateLifecyclePolicy() error = %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("validateLifecyclePolicy() error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pattern, s string
		want             bool
	}{
		{name: "exact", pattern: "latest", s: "latest", want: true},
		{name: "exact differs", pattern: "latest", s: "latest2"},
		{name: "prefix", pattern: "cache-*", s: "cache-main", want: true},
		{name: "prefix empty rest", pattern: "cache-*", s: "cache-", want: true},
		{name: "prefix differs", pattern: "cache-*", s: "main-cache"},
		{name: "middle", pattern: "*-rc*", s: "v1-rc2", want: true},
		{name: "overlap", pattern: "a*a", s: "a", want: false},
		{name: "suffix", pattern: "*-arm64", s: "v1-arm64", want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
				t.Errorf("wildcardMatch(%q, %q) = %t, want %t", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}

func TestEpochSeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		t    time.Time
		want string
	}{
		{name: "milliseconds", t: time.UnixMilli(1700000000123), want: "1700000000.123"},
		{name: "whole second", t: time.Unix(1700000000, 0), want: "1700000000.000"},
		{name: "before epoch", t: time.UnixMilli(-1500), want: "-1.500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(epochSeconds(tc.t))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("epochSeconds = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestTokenStore(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { return now }
	tokens := newTokenStore(time.Hour, "", clock)
	p1, exp, err := tokens.issue()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := exp, now.Add(time.Hour); !got.Equal(want) {
		t.Errorf("expiry = %v, want %v", got, want)
	}
	self1, err := tokens.self()
	if err != nil {
		t.Fatal(err)
	}
	got := []tokenState{tokens.check(p1), tokens.check("never-issued"), tokens.check("")}
	if diff := cmp.Diff([]tokenState{tokenValid, tokenUnknown, tokenUnknown}, got); diff != "" {
		t.Errorf("states mismatch (-want +got):\n%s", diff)
	}
	now = now.Add(time.Hour)
	if got, want := tokens.check(p1), tokenExpired; got != want {
		t.Errorf("check(expired) = %v, want %v", got, want)
	}
	self2, err := tokens.self()
	if err != nil {
		t.Fatal(err)
	}
	if self2 == self1 || tokens.check(self2) != tokenValid {
		t.Errorf("self() did not renew an expired password")
	}

	fixed := newTokenStore(time.Hour, "fixed", clock)
	f1, _, _ := fixed.issue()
	now = now.Add(2 * time.Hour)
	if got, want := fixed.check("fixed"), tokenExpired; got != want {
		t.Errorf("check(fixed, expired) = %v, want %v", got, want)
	}
	f2, _, _ := fixed.issue()
	if f1 != "fixed" || f2 != "fixed" || fixed.check("fixed") != tokenValid {
		t.Errorf("fixed store issued %q, %q; want the fixed password, valid again", f1, f2)
	}
}
