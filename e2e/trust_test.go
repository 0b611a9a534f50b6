package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/testenv"
)

// trustRun is one run of the binary as some CI job, and its outputs by the
// GitHub names.
type trustRun func(t *testing.T, inputs map[string]string, pullRequest bool) (outputs map[string]string, logs string)

// TestPullRequestCannotPoisonTheDefaultBranch is the trust model's
// acceptance on GitHub: a pull request (GITHUB_EVENT_NAME=pull_request,
// GITHUB_REF=refs/pull/12/merge, its head branch named main as a fork's may
// be) hits the default branch's cache, builds new dependencies and pushes
// its image, but writes no cache and no record and moves no latest; the
// default branch's next run with the same inputs neither hits the pull
// request's cache nor skips onto its image.
func TestPullRequestCannotPoisonTheDefaultBranch(t *testing.T) {
	testTrust(t, "acme/trust-github", engineRunner(t), githubTrust(nil))
}

// githubTrust runs the binary as a GitHub job, with inputs added to every
// run's (a builder's) and extra environment.
func githubTrust(inputs map[string]string, extra ...string) func(*testing.T, *testenv.ECR, string) trustRun {
	return func(t *testing.T, e *testenv.ECR, dir string) trustRun {
		return func(t *testing.T, in map[string]string, pr bool) (map[string]string, string) {
			env := slices.Clone(extra)
			if pr {
				env = append(env, "GITHUB_EVENT_NAME=pull_request", "GITHUB_REF=refs/pull/12/merge", "GITHUB_REF_NAME=12/merge",
					"GITHUB_REF_TYPE=", "GITHUB_HEAD_REF=main", "GITHUB_BASE_REF=main")
			} else {
				env = append(env, "GITHUB_EVENT_NAME=push", "GITHUB_REF_PROTECTED=true")
			}
			r := github(t, dir, e, withInputs(in, inputs), env...)
			if r.code != 0 {
				t.Fatalf("exit code %d", r.code)
			}
			return r.outputs, r.logs()
		}
	}
}

// engineRunner readies the engine with the base images and returns what
// makes it a fresh runner's: no image, no build cache.
func engineRunner(t *testing.T) func(*testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	return func(t *testing.T) { testenv.FreshRunner(t, docker) }
}

// TestMergeRequestCannotPoisonTheDefaultBranch is the same for a GitLab
// merge request pipeline (CI_PIPELINE_SOURCE=merge_request_event,
// CI_MERGE_REQUEST_IID, no CI_COMMIT_BRANCH, its source branch protected).
func TestMergeRequestCannotPoisonTheDefaultBranch(t *testing.T) {
	testTrust(t, "acme/trust-gitlab", engineRunner(t), func(t *testing.T, e *testenv.ECR, dir string) trustRun {
		return func(t *testing.T, inputs map[string]string, mr bool) (map[string]string, string) {
			var extra []string
			if mr {
				extra = []string{"CI_PIPELINE_SOURCE=merge_request_event", "CI_MERGE_REQUEST_IID=5", "CI_COMMIT_BRANCH=",
					"CI_COMMIT_REF_NAME=main", "CI_COMMIT_REF_PROTECTED=true", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=main",
					"CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main"}
			} else {
				extra = []string{"CI_PIPELINE_SOURCE=push", "CI_COMMIT_REF_NAME=main", "CI_COMMIT_REF_PROTECTED=true"}
			}
			r := gitlab(t, dir, e, inputs, extra...)
			if r.code != 0 {
				t.Fatalf("exit code %d", r.code)
			}
			out := map[string]string{}
			for line := range strings.Lines(r.dotenv) {
				k, v, _ := strings.Cut(strings.TrimRight(line, "\n"), "=")
				if name, ok := strings.CutPrefix(k, "MSB_"); ok {
					out[strings.ToLower(strings.ReplaceAll(name, "_", "-"))] = v
				}
			}
			return out, r.logs()
		}
	})
}

// testTrust runs the trust model's story on a builder: fresh makes it a
// fresh runner's (nothing cached).
func testTrust(t *testing.T, repo string, fresh func(*testing.T), runner func(*testing.T, *testenv.ECR, string) trustRun) {
	e := testenv.StartECR(t, testenv.GGCR)
	dir := workspace(t, "twostage")
	run := runner(t, e, dir)
	inputs := func(tags string) map[string]string {
		return map[string]string{"repository": repo, "network": "none", "tags": tags}
	}

	// The default branch: its caches, its record, latest.
	fresh(t)
	main1, _ := run(t, inputs("main-1,latest"), false)
	latest := digestOf(t, e, repo, "latest")
	if latest == "" || latest != main1["digest"] {
		t.Fatalf("latest at %q, want the default branch's %s", latest, main1["digest"])
	}
	trusted := ownTags(t, e, repo)

	// A pull request with the default branch's dependencies: a hit on its
	// cache. latest, asked for, is not attached.
	write(t, dir, "message.txt", "hello from a pull request\n")
	fresh(t)
	same, logs := run(t, inputs("pr-a,latest"), true)
	if got := same["cache-hit"]; got != "true" {
		t.Errorf("pull request, same dependencies: cache-hit = %s, want true (the default branch's cache)", got)
	}
	if !strings.Contains(logs, "latest is not attached by a") {
		t.Error("pull request: no notice that latest was dropped")
	}
	if !strings.Contains(logs, "reads the trusted build caches and skip records and writes none") {
		t.Error("pull request: no notice that it writes no cache")
	}

	// A pull request with new dependencies: a miss, its image pushed, and
	// nothing later runs read.
	write(t, dir, "requirements.txt", "left-pad\nnewtonsoft-json\nevil-package\n")
	fresh(t)
	pr, _ := run(t, inputs("pr-b"), true)
	if got := pr["cache-hit"]; got != "false" {
		t.Errorf("pull request, new dependencies: cache-hit = %s, want false", got)
	}
	if pr["digest"] == "" || digestOf(t, e, repo, "pr-b") != pr["digest"] {
		t.Errorf("pr-b at %q, want the pull request's image %q", digestOf(t, e, repo, "pr-b"), pr["digest"])
	}
	if diff := cmp.Diff(trusted, ownTags(t, e, repo)); diff != "" {
		t.Errorf("pull requests changed the tags later runs read (-before +after):\n%s", diff)
	}
	if got := digestOf(t, e, repo, "latest"); got != latest {
		t.Errorf("a pull request moved latest from %s to %s", latest, got)
	}

	// The default branch, the same inputs as the last pull request, on a
	// fresh runner: no hit, no skip, its own build, its own cache.
	fresh(t)
	main2, logs := run(t, inputs("main-2,latest"), false)
	if main2["cache-key"] != pr["cache-key"] {
		t.Fatalf("cache keys differ (%s, %s): the test needs the same inputs", main2["cache-key"], pr["cache-key"])
	}
	if main2["cache-hit"] != "false" || main2["skipped"] != "false" {
		t.Errorf("default branch after the pull request: cache-hit %s, skipped %s; want both false", main2["cache-hit"], main2["skipped"])
	}
	if !strings.Contains(logs, "restoring evil-package") {
		t.Error("default branch after the pull request: the restore step did not run: its layers came from elsewhere")
	}
	after := ownTags(t, e, repo)
	if _, ok := after["buildcache-"+main2["cache-key"][:16]]; !ok {
		t.Errorf("the default branch stored no cache of its own; tags: %v", after)
	}
	if got := digestOf(t, e, repo, "latest"); got != main2["digest"] {
		t.Errorf("latest at %s, want the default branch's new image %s", got, main2["digest"])
	}
}

// ownTags are the repository's tags that later runs read (build caches,
// branch pointers, skip records), with their digests.
func ownTags(t *testing.T, e *testenv.ECR, repo string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range listImages(t, e, repo) {
		tag := aws.ToString(id.ImageTag)
		if strings.HasPrefix(tag, "buildcache-") || strings.HasPrefix(tag, "msb-skip-") {
			out[tag] = aws.ToString(id.ImageDigest)
		}
	}
	return out
}

// digestOf is the digest a tag points at, "" when there is no such tag.
func digestOf(t *testing.T, e *testenv.ECR, repo, tag string) string {
	t.Helper()
	for _, id := range listImages(t, e, repo) {
		if aws.ToString(id.ImageTag) == tag {
			return aws.ToString(id.ImageDigest)
		}
	}
	return ""
}
