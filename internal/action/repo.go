package action

import (
	"net/url"
	"regexp"
	"strings"
)

// Repo is what the CI says of the repository, for the image's standard
// OCI labels (title, description, url, licenses), as docker/metadata-action
// takes them from GitHub's event payload. Empty fields are unknown.
type Repo struct {
	Title       string
	Description string
	URL         string // the repository's web page
	Licenses    string // an SPDX expression
}

// maxDescription bounds a repository description taken into a label: the
// labels travel in the build request's URL.
const maxDescription = 4 << 10

// githubRepo reads the event payload's repository object, else the
// repository's name from GITHUB_REPOSITORY (owner/name).
func githubRepo(ev githubEvent, sourceURL, repository string) Repo {
	r := ev.Repository
	out := Repo{Title: r.Name, Description: r.Description, URL: r.HTMLURL, Licenses: r.License.SPDXID}
	if out.Title == "" {
		_, out.Title, _ = strings.Cut(repository, "/")
	}
	if out.URL == "" {
		out.URL = sourceURL
	}
	// GitHub's spdx_id for a license it cannot name is not a license.
	if out.Licenses == "NOASSERTION" {
		out.Licenses = ""
	}
	out.Description = cut(out.Description, maxDescription)
	return out
}

// gitlabRepo reads GitLab's predefined project variables; GitLab names no
// license in them.
func gitlabRepo(getenv func(string) string) Repo {
	title := getenv("CI_PROJECT_TITLE")
	if title == "" {
		title = getenv("CI_PROJECT_NAME")
	}
	return Repo{Title: title, Description: cut(getenv("CI_PROJECT_DESCRIPTION"), maxDescription), URL: getenv("CI_PROJECT_URL")}
}

// cut shortens s to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !runeStart(s[n]) {
		n--
	}
	return s[:n]
}

func runeStart(b byte) bool { return b&0xC0 != 0x80 }

// scpLikeRE is git's scp-like remote syntax: [user@]host:path.
var scpLikeRE = regexp.MustCompile(`^(?:[^@/]+@)?([A-Za-z0-9.-]+):([^/].*)$`)

// webURL turns a git remote URL into the repository's web address, with no
// user, password or token (a remote URL may embed one), query or .git: an
// http(s) remote's own scheme, host and port; https and the host for ssh,
// git and scp-like remotes, whose port is not the web server's. A local
// path, or anything that would not read as one plain address, gives "".
func webURL(remote string) string {
	remote = strings.TrimSpace(remote)
	scheme, host, path := "https", "", ""
	if m := scpLikeRE.FindStringSubmatch(remote); m != nil && !strings.Contains(remote, "://") {
		host, path = m[1], m[2]
	} else if u, err := url.Parse(remote); err == nil {
		switch u.Scheme {
		case "https", "http":
			scheme, host, path = u.Scheme, u.Host, u.Path
		case "ssh", "git":
			host, path = u.Hostname(), u.Path
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
		}
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	if host == "" || path == "" || strings.ContainsFunc(host+path, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r == '<' || r == '>' || r == 0x7f }) {
		return ""
	}
	return scheme + "://" + host + "/" + path
}

// repoName is the last element of a repository's web address.
func repoName(webURL string) string {
	if webURL == "" {
		return ""
	}
	return webURL[strings.LastIndex(webURL, "/")+1:]
}

// versionRE is what docker/metadata-action replaces in a ref to make a tag.
var versionRE = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// Version is the image's version label as docker/metadata-action's default
// tags make it: the git tag built, else the branch (made a valid tag: "/"
// and other characters become "-"), else pr-<number> for a pull or merge
// request; "" when none is known.
func (c CI) Version() string {
	switch {
	case c.Tag != "":
		return versionRE.ReplaceAllString(c.Tag, "-")
	case c.Branch != "":
		return versionRE.ReplaceAllString(c.Branch, "-")
	case c.PullRequest != "" && c.PullRequest != unknownRequest:
		return "pr-" + c.PullRequest
	}
	return ""
}
