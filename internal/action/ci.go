package action

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/org/ms-build-action/internal/tags"
)

// Provider names the CI system a run happens in.
type Provider string

const (
	GitHub Provider = "github"
	GitLab Provider = "gitlab"
	Local  Provider = "local"
)

// CI is what the run knows about the commit and the CI job it builds for.
type CI struct {
	Provider      Provider
	SHA           string // full commit sha, "" when unknown
	Branch        string // "" when not building a branch (a tag, a detached head, a pull request)
	DefaultBranch string // "" when unknown
	SourceURL     string // the repository's web address, for the OCI source label
	Workspace     string // the checkout directory; context and file must stay inside it ("" on a laptop: no limit)
	JobURL        string // a link to this job, for the summary

	// Event is what started the run: GitHub's event name, GitLab's
	// pipeline source ("" on a laptop).
	Event string
	// PullRequest is the pull or merge request's number when the run builds
	// one (its code is not yet reviewed: see Trusted), else "".
	PullRequest string
	// BaseBranch is the branch a pull request merges into, whose caches it
	// reads; "" when not a pull request.
	BaseBranch string
	// Tag is the git tag built, "" when not building a tag.
	Tag string
	// Protected reports that the ref built is a protected branch or tag
	// (GITHUB_REF_PROTECTED, CI_COMMIT_REF_PROTECTED).
	Protected bool
	// Repo describes the repository, for the image's OCI labels.
	Repo Repo
}

// pullRequestEvents run code from a pull request, or (workflow_run) may
// act on what a pull request's run left behind. pull_request_target and
// workflow_run run with the base branch's ref: the event, not the ref,
// says what they build.
var pullRequestEvents = []string{"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment", "workflow_run"}

// unknownRequest stands for a pull request whose number the run cannot
// tell (a workflow_run for a fork's pull request names none): still one.
const unknownRequest = "?"

// Trusted reports whether the run may write what later runs read (build
// caches, branch pointers, skip records) when cache-write is auto: a run of
// the default branch, or of a protected branch or tag, and never a pull or
// merge request. A run outside CI is trusted: it runs with its user's own
// credentials.
func (c CI) Trusted() bool {
	switch {
	case c.Provider == Local:
		return true
	case c.PullRequest != "":
		return false
	case c.Protected:
		return true
	}
	return c.Branch != "" && c.Branch == c.DefaultBranch
}

// MayTagLatest reports whether the run may attach latest: not a pull or
// merge request, and not an unprotected branch other than the default one.
// A tag build may (a release), as may a run outside CI.
func (c CI) MayTagLatest() bool {
	switch {
	case c.Provider == Local:
		return true
	case c.PullRequest != "":
		return false
	case c.Branch != "" && c.Branch != c.DefaultBranch && !c.Protected:
		return false
	}
	return true
}

// Kind names the run for messages: "pull request 12", "merge request 7",
// "unprotected branch feature/x", "protected tag v1.2", ...
func (c CI) Kind() string {
	if c.PullRequest == unknownRequest && c.Event == "workflow_run" {
		return "workflow_run run (it may act on a pull request's work)"
	}
	if c.PullRequest != "" {
		kind := "pull request"
		if c.Provider == GitLab && c.Event != "external_pull_request_event" {
			kind = "merge request"
		}
		if c.PullRequest != unknownRequest {
			kind += " " + c.PullRequest
		}
		return kind
	}
	prot := "unprotected "
	if c.Protected {
		prot = "protected "
	}
	switch {
	case c.Branch != "" && c.Branch == c.DefaultBranch:
		return "default branch " + c.Branch
	case c.Branch != "":
		return prot + "branch " + c.Branch
	case c.Tag != "":
		return prot + "tag " + c.Tag
	}
	return "run of no branch"
}

// DefaultTags are the tags used when none are given: the commit's short sha;
// on a tag build, the git tag's name too (sanitized as the rules do: a name
// that is still no valid tag is left out); and latest on the default branch
// and on a tag that is a semantic version without a pre-release (the run
// keeps it only when that is the repository's highest release).
func (c CI) DefaultTags() []string {
	var list []string
	if len(c.SHA) >= 7 {
		list = append(list, c.SHA[:7])
	}
	if t := tags.Sanitize(c.Tag); c.Tag != "" && tags.Valid(t) && !slices.Contains(list, t) {
		list = append(list, t)
	}
	v, semver := tags.ParseVersion(c.Tag)
	release := c.Tag != "" && semver && v.Release()
	if (c.Branch != "" && c.Branch == c.DefaultBranch || release) && c.MayTagLatest() {
		list = append(list, "latest")
	}
	if c.Provider == Local && len(list) == 0 {
		list = append(list, "latest")
	}
	return list
}

// Ref is the run's ref as the tag rules see it.
func (c CI) Ref() tags.Ref {
	return tags.Ref{SHA: c.SHA, Branch: c.Branch, Tag: c.Tag, PullRequest: c.PullRequest, DefaultBranch: c.DefaultBranch, BaseBranch: c.BaseBranch}
}

// Checkout is what git tells of a laptop's checkout: the commit, the branch
// (none on a detached head) and the tags that point at the commit.
type Checkout struct {
	SHA, Branch string
	Tags        []string
}

// Git is what a local run can learn from the checkout (by running git): used
// only when no CI system is detected.
type Git func() Checkout

// tagOf is the tag a checkout builds, of those at its commit: the highest
// semantic version, else the first by name.
func (g Checkout) tagOf() string {
	best, bestV := "", tags.Version{}
	for _, t := range g.Tags {
		v, ok := tags.ParseVersion(t)
		switch {
		case !ok:
		case best == "", bestV.Compare(v) < 0:
			best, bestV = t, v
		}
	}
	if best != "" || len(g.Tags) == 0 {
		return best
	}
	return slices.Min(g.Tags)
}

// Host is how DetectCI sees the machine: the environment, the GitHub event
// payload (for the default branch) and, on a laptop only, git.
type Host struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	Git      Git
	// Origin is the checkout's origin remote URL, read on a laptop only;
	// nil or "" when there is none.
	Origin func() string
}

// DetectCI reads the CI system's environment.
func DetectCI(h Host) CI {
	getenv := h.Getenv
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		return detectGitHub(h)
	// GitLab sets GITLAB_CI=true; gitlab-ci-local sets it to "false" but
	// runs the job as GitLab would, dotenv reports included.
	case getenv("GITLAB_CI") == "true" || (getenv("GITLAB_CI") != "" && getenv("CI_JOB_NAME") != ""):
		return detectGitLab(getenv)
	}
	c := CI{Provider: Local}
	if h.Git != nil {
		g := h.Git()
		c.SHA, c.Branch, c.Tag = g.SHA, g.Branch, g.tagOf()
	}
	if h.Origin != nil {
		c.SourceURL = webURL(h.Origin())
		c.Repo = Repo{Title: repoName(c.SourceURL), URL: c.SourceURL}
	}
	return c
}

func detectGitHub(h Host) CI {
	getenv, readFile := h.Getenv, h.ReadFile
	c := CI{
		Provider:  GitHub,
		SHA:       getenv("GITHUB_SHA"),
		Workspace: getenv("GITHUB_WORKSPACE"),
		Event:     getenv("GITHUB_EVENT_NAME"),
		Protected: getenv("GITHUB_REF_PROTECTED") == "true",
	}
	ref := getenv("GITHUB_REF")
	switch {
	case getenv("GITHUB_REF_TYPE") == "branch" || strings.HasPrefix(ref, "refs/heads/"):
		c.Branch = strings.TrimPrefix(ref, "refs/heads/")
		if n := getenv("GITHUB_REF_NAME"); c.Branch == "" {
			c.Branch = n
		}
	case getenv("GITHUB_REF_TYPE") == "tag" || strings.HasPrefix(ref, "refs/tags/"):
		c.Tag = strings.TrimPrefix(ref, "refs/tags/")
		if n := getenv("GITHUB_REF_NAME"); c.Tag == "" {
			c.Tag = n
		}
	}
	if server, repo := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"); server != "" && repo != "" {
		c.SourceURL = server + "/" + repo
		if id := getenv("GITHUB_RUN_ID"); id != "" {
			c.JobURL = c.SourceURL + "/actions/runs/" + id
		}
	}
	ev := readEvent(getenv("GITHUB_EVENT_PATH"), readFile)
	c.DefaultBranch = ev.Repository.DefaultBranch
	c.Repo = githubRepo(ev, c.SourceURL, getenv("GITHUB_REPOSITORY"))
	// A scheduled run's payload names no repository, but GitHub runs
	// schedules on the default branch only.
	if c.DefaultBranch == "" && c.Event == "schedule" {
		c.DefaultBranch = c.Branch
	}
	// A pull request's run is named for its number, never for a branch: its
	// head branch (GITHUB_HEAD_REF) is chosen by its author, in a fork too,
	// and may be named as any branch of the repository, main included; and
	// pull_request_target and workflow_run run with the base branch's ref.
	// A comment on a pull request runs with the default branch's ref, but
	// its workflow is there to act on the pull request (check out its head,
	// build it): one, for trust.
	commentOnPull := c.Event == "issue_comment" && len(ev.Issue.PullRequest) > 0 && string(ev.Issue.PullRequest) != "null"
	if slices.Contains(pullRequestEvents, c.Event) || strings.HasPrefix(ref, "refs/pull/") || commentOnPull {
		c.PullRequest = pullNumber(ref, ev.Number, ev.PullRequest.Number)
		if commentOnPull && ev.Issue.Number > 0 {
			c.PullRequest = strconv.Itoa(ev.Issue.Number)
		}
		if c.PullRequest == "" && len(ev.WorkflowRun.PullRequests) > 0 {
			c.PullRequest = strconv.Itoa(ev.WorkflowRun.PullRequests[0].Number)
		}
		if c.PullRequest == "" {
			c.PullRequest = unknownRequest
		}
		c.BaseBranch = getenv("GITHUB_BASE_REF")
		c.Branch, c.Tag, c.Protected = "", "", false
	}
	return c
}

// githubEvent is what the run reads of GitHub's event payload.
type githubEvent struct {
	Number     int `json:"number"`
	Repository struct {
		DefaultBranch string `json:"default_branch"`
		Name          string `json:"name"`
		Description   string `json:"description"`
		HTMLURL       string `json:"html_url"`
		License       struct {
			SPDXID string `json:"spdx_id"`
		} `json:"license"`
	} `json:"repository"`
	PullRequest struct {
		Number int `json:"number"`
	} `json:"pull_request"`
	Issue struct {
		Number      int             `json:"number"`
		PullRequest json.RawMessage `json:"pull_request"` // present on a pull request's issue
	} `json:"issue"`
	WorkflowRun struct {
		PullRequests []struct {
			Number int `json:"number"`
		} `json:"pull_requests"`
	} `json:"workflow_run"`
}

// readEvent reads the event payload at path; a payload that cannot be read
// tells nothing.
func readEvent(path string, readFile func(string) ([]byte, error)) githubEvent {
	var ev githubEvent
	if path != "" && readFile != nil {
		if b, err := readFile(path); err == nil && json.Unmarshal(b, &ev) != nil {
			return githubEvent{}
		}
	}
	return ev
}

// pullNumber is the number in refs/pull/<n>/merge, else the event's.
func pullNumber(ref string, numbers ...int) string {
	if rest, ok := strings.CutPrefix(ref, "refs/pull/"); ok {
		if n, _, ok := strings.Cut(rest, "/"); ok && n != "" {
			return n
		}
	}
	for _, n := range numbers {
		if n > 0 {
			return strconv.Itoa(n)
		}
	}
	return ""
}

// gitLabRequestSources are the pipeline sources that build a merge request
// (or, for a project mirrored from GitHub, a pull request).
var gitLabRequestSources = []string{"merge_request_event", "external_pull_request_event"}

func detectGitLab(getenv func(string) string) CI {
	c := CI{
		Provider:      GitLab,
		SHA:           getenv("CI_COMMIT_SHA"),
		Branch:        getenv("CI_COMMIT_BRANCH"),
		Tag:           getenv("CI_COMMIT_TAG"),
		DefaultBranch: getenv("CI_DEFAULT_BRANCH"),
		SourceURL:     getenv("CI_PROJECT_URL"),
		Workspace:     getenv("CI_PROJECT_DIR"),
		JobURL:        getenv("CI_JOB_URL"),
		Event:         getenv("CI_PIPELINE_SOURCE"),
		Protected:     getenv("CI_COMMIT_REF_PROTECTED") == "true",
	}
	c.Repo = gitlabRepo(getenv)
	iid := getenv("CI_MERGE_REQUEST_IID")
	if iid == "" {
		iid = getenv("CI_EXTERNAL_PULL_REQUEST_IID")
	}
	if iid != "" || slices.Contains(gitLabRequestSources, c.Event) {
		if iid == "" {
			iid = unknownRequest
		}
		c.PullRequest = iid
		c.BaseBranch = getenv("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")
		if c.BaseBranch == "" {
			c.BaseBranch = getenv("CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_NAME")
		}
		c.Branch, c.Tag, c.Protected = "", "", false
	}
	return c
}
