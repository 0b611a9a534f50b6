package ecrlocal

import (
	"regexp"
	"strings"
)

var (
	// repositoryNamePattern is ECR's repositoryName constraint.
	repositoryNamePattern = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	registryIDPattern     = regexp.MustCompile(`^[0-9]{12}$`)
	digestPattern         = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	// tagPattern is the OCI tag grammar with ECR's 300-character limit.
	tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}$`)
)

// validateRepositoryName returns ECR's InvalidParameterException for a bad repositoryName.
func validateRepositoryName(name string) error {
	switch {
	case name == "":
		return invalidParameter("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must not be null'")
	case len(name) < 2 || len(name) > 256:
		return invalidParameter("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'Member must have length between 2 and 256'")
	case !repositoryNamePattern.MatchString(name):
		return invalidParameter("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '%s''",
			strings.Trim(repositoryNamePattern.String(), "^$"))
	}
	return nil
}

func isDigest(ref string) bool { return digestPattern.MatchString(ref) }

func isTag(ref string) bool { return tagPattern.MatchString(ref) }

// v2Path is a parsed registry API path below /v2/.
type v2Path struct {
	name string // repository name, may contain slashes
	kind string // "manifests", "blobs", "uploads", "tags", "referrers"
	ref  string // tag or digest (manifests, blobs, referrers), upload id (uploads)
}

// parseV2Path parses /v2/<name>/(manifests|blobs|tags|referrers)/... . Catalog and the base path are
// not repository paths and give ok false.
func parseV2Path(p string) (v2Path, bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return v2Path{}, false
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	var out v2Path
	var nameSegs []string
	switch {
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		out.kind, out.ref, nameSegs = "uploads", segs[n-1], segs[:n-3]
	case n >= 3 && segs[n-2] == "blobs" && segs[n-1] == "uploads":
		out.kind, nameSegs = "uploads", segs[:n-2]
	case n >= 3 && segs[n-2] == "blobs":
		out.kind, out.ref, nameSegs = "blobs", segs[n-1], segs[:n-2]
	case n >= 3 && segs[n-2] == "manifests":
		out.kind, out.ref, nameSegs = "manifests", segs[n-1], segs[:n-2]
	case n >= 3 && segs[n-2] == "tags" && segs[n-1] == "list":
		out.kind, nameSegs = "tags", segs[:n-2]
	case n >= 3 && segs[n-2] == "referrers":
		out.kind, out.ref, nameSegs = "referrers", segs[n-1], segs[:n-2]
	default:
		return v2Path{}, false
	}
	out.name = strings.Join(nameSegs, "/")
	if out.name == "" {
		return v2Path{}, false
	}
	return out, true
}

// wildcardMatch matches s against pattern where '*' matches any run of characters.
func wildcardMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, last) && len(s) >= len(last)
}
