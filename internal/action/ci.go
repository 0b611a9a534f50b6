package action

import (
	"encoding/json"
	"strings"
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
	Branch        string // "" when not building a branch (a tag, a detached head)
	DefaultBranch string // "" when unknown
	SourceURL     string // the repository's web address, for the OCI source label
	Workspace     string // the checkout directory; context and file must stay inside it ("" on a laptop: no limit)
	JobURL        string // a link to this job, for the summary
}

// DefaultTags are the tags used when none are given: the commit's short sha,
// plus latest when building the default branch.
func (c CI) DefaultTags() []string {
	var tags []string
	if len(c.SHA) >= 7 {
		tags = append(tags, c.SHA[:7])
	}
	if c.Branch != "" && c.Branch == c.DefaultBranch {
		tags = append(tags, "latest")
	}
	if c.Provider == Local && len(tags) == 0 {
		tags = append(tags, "latest")
	}
	return tags
}

// Git is what a local run can learn from the checkout (by running git): used
// only when no CI system is detected.
type Git func() (sha, branch string)

// Host is how DetectCI sees the machine: the environment, the GitHub event
// payload (for the default branch) and, on a laptop only, git.
type Host struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
	Git      Git
}

// DetectCI reads the CI system's environment.
func DetectCI(h Host) CI {
	getenv, readFile := h.Getenv, h.ReadFile
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		c := CI{
			Provider:  GitHub,
			SHA:       getenv("GITHUB_SHA"),
			Workspace: getenv("GITHUB_WORKSPACE"),
		}
		if getenv("GITHUB_REF_TYPE") == "branch" || strings.HasPrefix(getenv("GITHUB_REF"), "refs/heads/") {
			c.Branch = strings.TrimPrefix(getenv("GITHUB_REF"), "refs/heads/")
			if n := getenv("GITHUB_REF_NAME"); c.Branch == "" {
				c.Branch = n
			}
		}
		if server, repo := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"); server != "" && repo != "" {
			c.SourceURL = server + "/" + repo
			if id := getenv("GITHUB_RUN_ID"); id != "" {
				c.JobURL = c.SourceURL + "/actions/runs/" + id
			}
		}
		if p := getenv("GITHUB_EVENT_PATH"); p != "" && readFile != nil {
			if b, err := readFile(p); err == nil {
				var ev struct {
					Repository struct {
						DefaultBranch string `json:"default_branch"`
					} `json:"repository"`
				}
				if json.Unmarshal(b, &ev) == nil {
					c.DefaultBranch = ev.Repository.DefaultBranch
				}
			}
		}
		return c
	// GitLab sets GITLAB_CI=true; gitlab-ci-local sets it to "false" but
	// runs the job as GitLab would, dotenv reports included.
	case getenv("GITLAB_CI") == "true" || (getenv("GITLAB_CI") != "" && getenv("CI_JOB_NAME") != ""):
		return CI{
			Provider:      GitLab,
			SHA:           getenv("CI_COMMIT_SHA"),
			Branch:        getenv("CI_COMMIT_BRANCH"),
			DefaultBranch: getenv("CI_DEFAULT_BRANCH"),
			SourceURL:     getenv("CI_PROJECT_URL"),
			Workspace:     getenv("CI_PROJECT_DIR"),
			JobURL:        getenv("CI_JOB_URL"),
		}
	}
	c := CI{Provider: Local}
	if h.Git != nil {
		c.SHA, c.Branch = h.Git()
	}
	return c
}
