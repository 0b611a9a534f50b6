package action

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// gitHubHost is a GitHub runner's environment: env over a push to main,
// with an event payload that names the default branch (and whatever event
// adds).
func gitHubHost(env map[string]string, event string) Host {
	base := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": "/event.json",
		"GITHUB_SHA": "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4", "GITHUB_REF": "refs/heads/main",
		"GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch", "GITHUB_REF_PROTECTED": "false",
		"GITHUB_WORKSPACE": "/w",
	}
	for k, v := range env {
		base[k] = v
	}
	if event == "" {
		event = `{"repository":{"default_branch":"main"}}`
	}
	return Host{
		Getenv: func(k string) string { return base[k] },
		ReadFile: func(p string) ([]byte, error) {
			if p != "/event.json" {
				return nil, errors.New("no such file")
			}
			return []byte(event), nil
		},
	}
}

func gitLabHost(env map[string]string) Host {
	base := map[string]string{
		"GITLAB_CI": "true", "CI_JOB_NAME": "ms-build", "CI_PIPELINE_SOURCE": "push",
		"CI_COMMIT_SHA": "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4", "CI_COMMIT_BRANCH": "main",
		"CI_COMMIT_REF_NAME": "main", "CI_COMMIT_REF_PROTECTED": "false", "CI_DEFAULT_BRANCH": "main",
		"CI_PROJECT_DIR": "/builds/acme/app",
	}
	for k, v := range env {
		if v == "-" {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	return Host{Getenv: func(k string) string { return base[k] }}
}

// TestDetectCITrust reads each kind of run from its CI's environment and
// checks what the run may write and tag: caches and skip records only from
// the default branch and protected refs, latest never from a pull request or
// an unprotected branch, and a pull request named for its number, never for
// a branch its author chose.
func TestDetectCITrust(t *testing.T) {
	t.Parallel()
	const prEvent = `{"number":12,"pull_request":{"number":12},"repository":{"default_branch":"main"}}`
	type facts struct {
		Branch, Tag, PullRequest, BaseBranch, Event string
		Protected                                   bool
	}
	cases := []struct {
		name    string
		host    Host
		want    facts
		trusted bool
		latest  bool // may attach latest
		tags    []string
		kind    string
		// defaultBranch is the one detected: "" is main, "-" none.
		defaultBranch string
	}{
		{
			name: "github push to the default branch",
			host: gitHubHost(nil, ""),
			want: facts{Branch: "main", Event: "push"}, trusted: true, latest: true,
			tags: []string{"4f2b9b6", "latest"}, kind: "default branch main",
		},
		{
			// The schedule event's payload names no default branch; GitHub
			// runs schedules on it.
			name: "github schedule",
			host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "schedule"}, `{"schedule":"0 3 * * *"}`),
			want: facts{Branch: "main", Event: "schedule"}, trusted: true, latest: true,
			tags: []string{"4f2b9b6", "latest"}, kind: "default branch main",
		},
		{
			// Without the event's payload the default branch is unknown:
			// an unprotected branch, not trusted.
			name: "github push without an event payload",
			host: gitHubHost(map[string]string{"GITHUB_EVENT_PATH": ""}, ""),
			want: facts{Branch: "main", Event: "push"}, defaultBranch: "-",
			tags: []string{"4f2b9b6"}, kind: "unprotected branch main",
		},
		{
			name: "github push to a protected branch",
			host: gitHubHost(map[string]string{"GITHUB_REF": "refs/heads/release/1.x", "GITHUB_REF_NAME": "release/1.x", "GITHUB_REF_PROTECTED": "true"}, ""),
			want: facts{Branch: "release/1.x", Event: "push", Protected: true}, trusted: true, latest: true,
			tags: []string{"4f2b9b6"}, kind: "protected branch release/1.x",
		},
		{
			name: "github push to an unprotected branch",
			host: gitHubHost(map[string]string{"GITHUB_REF": "refs/heads/feature/x", "GITHUB_REF_NAME": "feature/x"}, ""),
			want: facts{Branch: "feature/x", Event: "push"},
			tags: []string{"4f2b9b6"}, kind: "unprotected branch feature/x",
		},
		{
			name: "github pull_request",
			host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/12/merge", "GITHUB_REF_NAME": "12/merge",
				"GITHUB_REF_TYPE": "", "GITHUB_HEAD_REF": "feature/x", "GITHUB_BASE_REF": "main"}, prEvent),
			want: facts{PullRequest: "12", BaseBranch: "main", Event: "pull_request"},
			tags: []string{"4f2b9b6"}, kind: "pull request 12",
		},
		{
			// A fork's branch may be called main: the run is still the pull
			// request's, not main's.
			name: "github pull_request from a fork's main",
			host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/13/merge", "GITHUB_REF_NAME": "13/merge",
				"GITHUB_REF_TYPE": "", "GITHUB_HEAD_REF": "main", "GITHUB_BASE_REF": "main"}, prEvent),
			want: facts{PullRequest: "13", BaseBranch: "main", Event: "pull_request"},
			tags: []string{"4f2b9b6"}, kind: "pull request 13",
		},
		{
			// pull_request_target runs with the base branch's ref, protected
			// or not: only the event tells.
			name: "github pull_request_target",
			host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_REF_PROTECTED": "true",
				"GITHUB_HEAD_REF": "feature/x", "GITHUB_BASE_REF": "main"}, prEvent),
			want: facts{PullRequest: "12", BaseBranch: "main", Event: "pull_request_target"},
			tags: []string{"4f2b9b6"}, kind: "pull request 12",
		},
		{
			name: "github workflow_run",
			host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "workflow_run", "GITHUB_REF_PROTECTED": "true"},
				`{"workflow_run":{"pull_requests":[{"number":7}]},"repository":{"default_branch":"main"}}`),
			want: facts{PullRequest: "7", Event: "workflow_run"},
			tags: []string{"4f2b9b6"}, kind: "pull request 7",
		},
		{
			name: "github workflow_run naming no pull request",
			host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "workflow_run"}, ""),
			want: facts{PullRequest: "?", Event: "workflow_run"},
			tags: []string{"4f2b9b6"}, kind: "workflow_run run (it may act on a pull request's work)",
		},
		{
			// A comment on a pull request runs on the default branch's
			// ref, to act on the pull request.
			name: "github issue_comment on a pull request",
			host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "issue_comment", "GITHUB_REF_PROTECTED": "true"},
				`{"issue":{"number":31,"pull_request":{"url":"https://api.github.com/repos/acme/app/pulls/31"}},"repository":{"default_branch":"main"}}`),
			want: facts{PullRequest: "31", Event: "issue_comment"},
			tags: []string{"4f2b9b6"}, kind: "pull request 31",
		},
		{
			name: "github issue_comment on an issue",
			host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "issue_comment", "GITHUB_REF_PROTECTED": "true"},
				`{"issue":{"number":32,"pull_request":null},"repository":{"default_branch":"main"}}`),
			want: facts{Branch: "main", Event: "issue_comment", Protected: true}, trusted: true, latest: true,
			tags: []string{"4f2b9b6", "latest"}, kind: "default branch main",
		},
		{
			// A merge queue's branch is neither the default branch nor
			// protected.
			name: "github merge_group",
			host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "merge_group", "GITHUB_REF": "refs/heads/gh-readonly-queue/main/pr-31-0123abc",
				"GITHUB_REF_NAME": "gh-readonly-queue/main/pr-31-0123abc"}, `{"repository":{"default_branch":"main"}}`),
			want: facts{Branch: "gh-readonly-queue/main/pr-31-0123abc", Event: "merge_group"},
			tags: []string{"4f2b9b6"}, kind: "unprotected branch gh-readonly-queue/main/pr-31-0123abc",
		},
		{
			name: "github push of a protected tag",
			host: gitHubHost(map[string]string{"GITHUB_REF": "refs/tags/v1.2.0", "GITHUB_REF_NAME": "v1.2.0", "GITHUB_REF_TYPE": "tag", "GITHUB_REF_PROTECTED": "true"}, ""),
			want: facts{Tag: "v1.2.0", Event: "push", Protected: true}, trusted: true, latest: true,
			tags: []string{"4f2b9b6", "v1.2.0", "latest"}, kind: "protected tag v1.2.0",
		},
		{
			// A release tag may move latest, but writes no cache unless
			// protected.
			name: "github push of an unprotected tag",
			host: gitHubHost(map[string]string{"GITHUB_REF": "refs/tags/v1.2.0", "GITHUB_REF_NAME": "v1.2.0", "GITHUB_REF_TYPE": "tag"}, ""),
			want: facts{Tag: "v1.2.0", Event: "push"}, latest: true,
			tags: []string{"4f2b9b6", "v1.2.0", "latest"}, kind: "unprotected tag v1.2.0",
		},
		{
			name: "gitlab default branch",
			host: gitLabHost(nil),
			want: facts{Branch: "main", Event: "push"}, trusted: true, latest: true,
			tags: []string{"4f2b9b6", "latest"}, kind: "default branch main",
		},
		{
			name: "gitlab protected branch",
			host: gitLabHost(map[string]string{"CI_COMMIT_BRANCH": "release", "CI_COMMIT_REF_NAME": "release", "CI_COMMIT_REF_PROTECTED": "true"}),
			want: facts{Branch: "release", Event: "push", Protected: true}, trusted: true, latest: true,
			tags: []string{"4f2b9b6"}, kind: "protected branch release",
		},
		{
			name: "gitlab unprotected branch",
			host: gitLabHost(map[string]string{"CI_COMMIT_BRANCH": "feature", "CI_COMMIT_REF_NAME": "feature"}),
			want: facts{Branch: "feature", Event: "push"},
			tags: []string{"4f2b9b6"}, kind: "unprotected branch feature",
		},
		{
			name: "gitlab protected tag",
			host: gitLabHost(map[string]string{"CI_COMMIT_BRANCH": "-", "CI_COMMIT_TAG": "v2", "CI_COMMIT_REF_NAME": "v2", "CI_COMMIT_REF_PROTECTED": "true"}),
			want: facts{Tag: "v2", Event: "push", Protected: true}, trusted: true, latest: true,
			tags: []string{"4f2b9b6", "v2"}, kind: "protected tag v2",
		},
		{
			// A merge request pipeline has no CI_COMMIT_BRANCH; its source
			// branch may be protected, and the pipeline is still untrusted.
			name: "gitlab merge request pipeline",
			host: gitLabHost(map[string]string{"CI_PIPELINE_SOURCE": "merge_request_event", "CI_COMMIT_BRANCH": "-", "CI_COMMIT_REF_NAME": "main",
				"CI_COMMIT_REF_PROTECTED": "true", "CI_MERGE_REQUEST_IID": "5", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "main",
				"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "release"}),
			want: facts{PullRequest: "5", BaseBranch: "release", Event: "merge_request_event"},
			tags: []string{"4f2b9b6"}, kind: "merge request 5",
		},
		{
			name: "gitlab external pull request pipeline",
			host: gitLabHost(map[string]string{"CI_PIPELINE_SOURCE": "external_pull_request_event", "CI_EXTERNAL_PULL_REQUEST_IID": "9",
				"CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME": "main"}),
			want: facts{PullRequest: "9", BaseBranch: "main", Event: "external_pull_request_event"},
			tags: []string{"4f2b9b6"}, kind: "pull request 9",
		},
		{
			name: "a laptop",
			host: Host{Getenv: func(string) string { return "" }, Git: func() Checkout { return Checkout{SHA: "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4", Branch: "feature"} }},
			want: facts{Branch: "feature"}, trusted: true, latest: true,
			tags: []string{"4f2b9b6"}, kind: "unprotected branch feature",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ci := DetectCI(c.host)
			got := facts{Branch: ci.Branch, Tag: ci.Tag, PullRequest: ci.PullRequest, BaseBranch: ci.BaseBranch, Event: ci.Event, Protected: ci.Protected}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("DetectCI() facts (-want +got):\n%s", diff)
			}
			wantDefault := map[string]string{"": "main", "-": ""}[c.defaultBranch]
			if ci.Provider != Local && ci.DefaultBranch != wantDefault {
				t.Errorf("DefaultBranch = %q, want %q", ci.DefaultBranch, wantDefault)
			}
			if got := ci.Trusted(); got != c.trusted {
				t.Errorf("Trusted() = %v, want %v", got, c.trusted)
			}
			if got := ci.MayTagLatest(); got != c.latest {
				t.Errorf("MayTagLatest() = %v, want %v", got, c.latest)
			}
			if diff := cmp.Diff(c.tags, ci.DefaultTags()); diff != "" {
				t.Errorf("DefaultTags() (-want +got):\n%s", diff)
			}
			if got := ci.Kind(); got != c.kind {
				t.Errorf("Kind() = %q, want %q", got, c.kind)
			}
		})
	}
}

// TestCacheWrite checks the cache-write input against each kind of run, and
// latest given in tags where it may not be attached.
func TestCacheWrite(t *testing.T) {
	t.Parallel()
	const sha = "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4"
	main := CI{Provider: GitHub, SHA: sha, Branch: "main", DefaultBranch: "main", Event: "push"}
	pr := CI{Provider: GitHub, SHA: sha, DefaultBranch: "main", BaseBranch: "main", Event: "pull_request", PullRequest: "12"}
	mr := CI{Provider: GitLab, SHA: sha, DefaultBranch: "main", Event: "merge_request_event", PullRequest: "5"}
	feature := CI{Provider: GitLab, SHA: sha, Branch: "feature", DefaultBranch: "main", Event: "push"}
	protected := CI{Provider: GitHub, SHA: sha, Branch: "release", DefaultBranch: "main", Event: "push", Protected: true}
	release := CI{Provider: GitHub, SHA: sha, Tag: "v1.0.0", DefaultBranch: "main", Event: "push"}
	cases := []struct {
		name    string
		ci      CI
		raw     map[string]string
		write   bool
		tags    []string
		notices []string // each a part of one notice, in order
		err     string
	}{
		{name: "default branch, auto", ci: main, write: true, tags: []string{"4f2b9b6", "latest"}},
		{name: "default branch, never", ci: main, raw: map[string]string{"cache-write": "never"}, tags: []string{"4f2b9b6", "latest"}},
		{name: "protected branch, auto", ci: protected, write: true, tags: []string{"4f2b9b6"}},
		{name: "protected branch, latest given", ci: protected, raw: map[string]string{"tags": "latest"}, write: true, tags: []string{"latest"}},
		{name: "unprotected release tag, latest given", ci: release, raw: map[string]string{"tags": "v1.0.0,latest"}, tags: []string{"v1.0.0", "latest"},
			notices: []string{"this unprotected tag v1.0.0 reads the trusted build caches"}},
		{name: "pull request, auto", ci: pr, tags: []string{"4f2b9b6"},
			notices: []string{"this pull request 12 reads the trusted build caches and skip records and writes none (cache-write: auto)"}},
		{name: "pull request, AUTO", ci: pr, raw: map[string]string{"cache-write": " AUTO "}, tags: []string{"4f2b9b6"},
			notices: []string{"writes none"}},
		{name: "pull request, cache off", ci: pr, raw: map[string]string{"cache": "false"}, tags: []string{"4f2b9b6"}},
		{name: "pull request, always", ci: pr, raw: map[string]string{"cache-write": "always"}, write: true, tags: []string{"4f2b9b6"},
			notices: []string{"cache-write: always: this pull request 12 writes build caches"}},
		{name: "pull request, latest given", ci: pr, raw: map[string]string{"tags": "pr-12\nlatest", "cache-write": "never"}, tags: []string{"pr-12"},
			notices: []string{"tags: latest is not attached by a pull request 12"}},
		{name: "pull request, always and latest", ci: pr, raw: map[string]string{"tags": "latest", "cache-write": "always"}, write: true, tags: []string{"4f2b9b6"},
			notices: []string{"tags: latest is not attached by a pull request 12: only the default branch, protected branches and tags move it; tagged 4f2b9b6 instead", "cache-write: always"}},
		{name: "merge request, auto", ci: mr, tags: []string{"4f2b9b6"}, notices: []string{"this merge request 5 reads the trusted"}},
		{name: "unprotected branch, auto", ci: feature, tags: []string{"4f2b9b6"}, notices: []string{"this unprotected branch feature reads"}},
		{name: "unprotected branch, always", ci: feature, raw: map[string]string{"cache-write": "always"}, write: true, tags: []string{"4f2b9b6"},
			notices: []string{"cache-write: always"}},
		{name: "pull request, only latest and no sha", ci: CI{Provider: GitHub, PullRequest: "3", Event: "pull_request"}, raw: map[string]string{"tags": "latest"},
			err: "latest is not attached by a pull request 3, and no other tag"},
		{name: "bad mode", ci: main, raw: map[string]string{"cache-write": "yes"}, err: `"yes" is not a cache-write mode: use auto`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			raw := map[string]string{"repository": "team/app", "aws-region": "eu-west-1"}
			for k, v := range c.raw {
				raw[k] = v
			}
			got, err := Parse(raw, Environment{CI: c.ci})
			if c.err != "" {
				var ie *InputError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("Parse() = %v, want an input error saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.CacheWrite != c.write {
				t.Errorf("CacheWrite = %v, want %v", got.CacheWrite, c.write)
			}
			if diff := cmp.Diff(c.tags, got.Tags); diff != "" {
				t.Errorf("Tags (-want +got):\n%s", diff)
			}
			if len(got.Notices) != len(c.notices) {
				t.Fatalf("Notices = %q, want %d", got.Notices, len(c.notices))
			}
			for i, n := range c.notices {
				if !strings.Contains(got.Notices[i], n) {
					t.Errorf("notice %d = %q, want it to say %q", i, got.Notices[i], n)
				}
			}
		})
	}
}
