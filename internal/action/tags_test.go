package action

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rules is the rule set metadata-action's README shows most, plus a sha and
// latest on the default branch.
const rules = `type=ref,event=branch
type=ref,event=pr
type=semver,pattern={{version}}
type=semver,pattern={{major}}.{{minor}}
type=semver,pattern={{major}}
type=sha
type=raw,value=latest,enable={{is_default_branch}}`

// TestTagRules resolves the same rules from each CI's environment for each
// kind of event, and the default tags with them: the rules see the same ref
// whether it comes from GitHub, GitLab or git on a laptop.
func TestTagRules(t *testing.T) {
	t.Parallel()
	const sha = "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4"
	laptop := func(c Checkout) Host {
		c.SHA = sha
		return Host{Getenv: func(string) string { return "" }, Git: func() Checkout { return c }}
	}
	ghTag := func(tag string) Host {
		return gitHubHost(map[string]string{"GITHUB_REF": "refs/tags/" + tag, "GITHUB_REF_NAME": tag, "GITHUB_REF_TYPE": "tag"}, "")
	}
	glTag := func(tag string) Host {
		return gitLabHost(map[string]string{"CI_COMMIT_BRANCH": "-", "CI_COMMIT_TAG": tag, "CI_COMMIT_REF_NAME": tag})
	}
	cases := []struct {
		name     string
		host     Host
		tags     []string // from the rules
		defaults []string // with no tags input
		release  string   // Inputs.Release with the rules
		notice   string   // a notice with the rules
	}{
		{name: "github push to the default branch", host: gitHubHost(nil, ""),
			tags: []string{"main", "latest", "sha-4f2b9b6"}, defaults: []string{"4f2b9b6", "latest"}},
		{name: "github push to a branch with a slash", host: gitHubHost(map[string]string{"GITHUB_REF": "refs/heads/feature/x", "GITHUB_REF_NAME": "feature/x"}, ""),
			tags: []string{"feature-x", "sha-4f2b9b6"}, defaults: []string{"4f2b9b6"}},
		{name: "github pull request", host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/12/merge", "GITHUB_REF_NAME": "12/merge", "GITHUB_REF_TYPE": "", "GITHUB_BASE_REF": "main"}, ""),
			tags: []string{"pr-12", "sha-4f2b9b6"}, defaults: []string{"4f2b9b6"}},
		{name: "github pull_request_target: the number from the payload", host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "pull_request_target"}, `{"number":7,"repository":{"default_branch":"main"}}`),
			tags: []string{"pr-7", "sha-4f2b9b6"}, defaults: []string{"4f2b9b6"}},
		{name: "github release tag", host: ghTag("v1.4.2"),
			tags: []string{"1.4.2", "1.4", "1", "sha-4f2b9b6", "latest"}, defaults: []string{"4f2b9b6", "v1.4.2", "latest"}, release: "1.4.2"},
		{name: "github pre-release tag", host: ghTag("v2.0.0-rc.1"),
			tags: []string{"2.0.0-rc.1", "sha-4f2b9b6"}, defaults: []string{"4f2b9b6", "v2.0.0-rc.1"}},
		{name: "github tag that is not semver", host: ghTag("nightly/2026"),
			tags: []string{"sha-4f2b9b6"}, defaults: []string{"4f2b9b6", "nightly-2026"}, notice: `"nightly-2026" is not a semantic version`},
		{name: "gitlab push to the default branch", host: gitLabHost(nil),
			tags: []string{"main", "latest", "sha-4f2b9b6"}, defaults: []string{"4f2b9b6", "latest"}},
		{name: "gitlab push to a branch", host: gitLabHost(map[string]string{"CI_COMMIT_BRANCH": "fix/%x", "CI_COMMIT_REF_NAME": "fix/%x"}),
			tags: []string{"fix-x", "sha-4f2b9b6"}, defaults: []string{"4f2b9b6"}},
		{name: "gitlab merge request", host: gitLabHost(map[string]string{"CI_COMMIT_BRANCH": "-", "CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "5", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}),
			tags: []string{"pr-5", "sha-4f2b9b6"}, defaults: []string{"4f2b9b6"}},
		{name: "gitlab release tag", host: glTag("v1.4.2"),
			tags: []string{"1.4.2", "1.4", "1", "sha-4f2b9b6", "latest"}, defaults: []string{"4f2b9b6", "v1.4.2", "latest"}, release: "1.4.2"},
		{name: "gitlab pre-release tag", host: glTag("1.5.0-beta.2"),
			tags: []string{"1.5.0-beta.2", "sha-4f2b9b6"}, defaults: []string{"4f2b9b6", "1.5.0-beta.2"}},
		{name: "laptop on a branch", host: laptop(Checkout{Branch: "feature/x"}),
			tags: []string{"feature-x", "sha-4f2b9b6"}, defaults: []string{"4f2b9b6"}},
		{name: "laptop at a release tag", host: laptop(Checkout{Tags: []string{"build-7", "v1.4.2", "v1.4.2-rc.1"}}),
			tags: []string{"1.4.2", "1.4", "1", "sha-4f2b9b6", "latest"}, defaults: []string{"4f2b9b6", "v1.4.2", "latest"}, release: "1.4.2"},
		{name: "laptop on a branch at a tag", host: laptop(Checkout{Branch: "main", Tags: []string{"v0.3.0"}}),
			tags: []string{"0.3.0", "0.3", "0", "main", "sha-4f2b9b6", "latest"}, defaults: []string{"4f2b9b6", "v0.3.0", "latest"}, release: "0.3.0"},
		{name: "laptop at a tag that is not semver", host: laptop(Checkout{Tags: []string{"deploy"}}),
			tags: []string{"sha-4f2b9b6"}, defaults: []string{"4f2b9b6", "deploy"}, notice: "not a semantic version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ci := DetectCI(c.host)
			in, err := Parse(map[string]string{"repository": "team/app", "aws-region": "eu-west-1", "tags": rules}, Environment{CI: ci})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.tags, in.Tags); diff != "" {
				t.Errorf("tags from the rules (-want +got):\n%s", diff)
			}
			if in.Release != c.release {
				t.Errorf("Release = %q, want %q", in.Release, c.release)
			}
			if c.notice != "" && !strings.Contains(strings.Join(in.Notices, "\n"), c.notice) {
				t.Errorf("notices %q, want one saying %q", in.Notices, c.notice)
			}
			def, err := Parse(map[string]string{"repository": "team/app", "aws-region": "eu-west-1"}, Environment{CI: ci})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.defaults, def.Tags); diff != "" {
				t.Errorf("default tags (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTagLatest: latest on a pushed tag is decided by the release: a
// pre-release drops it with a notice, a release leaves the decision to the
// run (Release), and a run that may not move latest drops it as before.
func TestTagLatest(t *testing.T) {
	t.Parallel()
	const sha = "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4"
	pre := CI{Provider: GitHub, SHA: sha, Tag: "v2.0.0-rc.1", DefaultBranch: "main", Event: "push"}
	rel := CI{Provider: GitHub, SHA: sha, Tag: "v1.4.2", DefaultBranch: "main", Event: "push"}
	pr := CI{Provider: GitHub, SHA: sha, DefaultBranch: "main", Event: "pull_request", PullRequest: "3"}
	for _, c := range []struct {
		name    string
		ci      CI
		tags    string
		want    []string
		release string
		notice  string
		err     string
	}{
		{name: "pre-release, latest given", ci: pre, tags: "v2.0.0-rc.1\nlatest", want: []string{"v2.0.0-rc.1"}, notice: "latest is not attached by pre-release 2.0.0-rc.1"},
		{name: "pre-release, only latest", ci: pre, tags: "latest", want: []string{"4f2b9b6"}, notice: "tagged 4f2b9b6 instead"},
		{name: "release, latest given", ci: rel, tags: "latest, v1.4.2", want: []string{"latest", "v1.4.2"}, release: "1.4.2"},
		{name: "release, no latest", ci: rel, tags: "type=semver,pattern={{version}},enable=true\ntype=raw,value=stable", want: []string{"1.4.2", "stable", "latest"}, release: "1.4.2"},
		{name: "release, latest rule off", ci: rel, tags: "type=ref,event=tag\ntype=raw,value=latest,enable={{is_default_branch}}", want: []string{"v1.4.2", "latest"}, release: "1.4.2"},
		{name: "pull request, a semver value", ci: pr, tags: "type=semver,pattern={{version}},value=1.0.0", want: []string{"1.0.0"}, notice: "latest is not attached by a pull request 3"},
		{name: "a rule that yields a reserved tag", ci: rel, tags: "type=raw,value=buildcache-x", err: `"buildcache-x" starts with "buildcache-"`},
		{name: "a rule error names tags", ci: rel, tags: "type=edge", err: `input tags: line 1 ("type=edge"): type="edge" is not a rule type ms-build supports`},
		{name: "a hostile branch yields an invalid tag", ci: CI{Provider: GitHub, Branch: ".\n::error::" + strings.Repeat("x", 300)}, tags: "type=ref,event=branch", err: "is not a valid tag"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in, err := Parse(map[string]string{"repository": "team/app", "aws-region": "eu-west-1", "tags": c.tags}, Environment{CI: c.ci})
			if c.err != "" {
				var ie *InputError
				if !errors.As(err, &ie) || ie.Input != "tags" || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Parse() = %v, want one line of input error naming tags, saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, in.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
			if in.Release != c.release {
				t.Errorf("Release = %q, want %q", in.Release, c.release)
			}
			if c.notice != "" && !strings.Contains(strings.Join(in.Notices, "\n"), c.notice) {
				t.Errorf("notices %q, want one saying %q", in.Notices, c.notice)
			}
		})
	}
}
