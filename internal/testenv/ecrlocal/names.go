package ecrlocal

import (
	"regexp"
	"strings"
)

var (
	// repositoryNamePattern is ECR's repositoryName constraint.
	repositoryNamePattern = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	registryIDPattern     = regexp.MustCompile(`^[0-9]{12}$`)
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

func isTag(ref string) bool { return tagPattern.MatchString(ref) }

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
