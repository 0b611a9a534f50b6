package bkit

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/registry"
)

// DockerHubHost is the host BuildKit asks about for Docker Hub images.
const DockerHubHost = "registry-1.docker.io"

// RefHost is the registry host of an image reference as BuildKit names it
// when it asks for a login; "" when ref is not a reference.
func RefHost(ref string) string {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	h := reference.Domain(n)
	if h == "docker.io" {
		return DockerHubHost
	}
	return h
}

// What the engine says when a registry refused a pull's login, or its lack
// of one: BuildKit names the image it was resolving ("load metadata for
// <ref>") and the status; a pull through the engine names the image and
// says unauthorized or denied.
var (
	refusedRef = regexp.MustCompile(`(?:load metadata for|failed to resolve source metadata for) (\S+?):?(?:\s|$)|^pulling (\S+): `)
	refusedMsg = regexp.MustCompile(`\b40[13]\b|(?i:unauthori[sz]ed|forbidden|denied|failed to authorize|no basic auth credentials|no active sessions)`)
	refusedAt  = regexp.MustCompile(`pulling from host (\S+) failed`)
)

// RegistryRefusedError is a build that failed because a registry refused
// the login (or the lack of one) for an image the build pulls.
type RegistryRefusedError struct {
	Host, Ref string
	Err       error // what the engine said
}

func (e *RegistryRefusedError) Error() string {
	return fmt.Sprintf("the registry %s refused the credentials for %s: check the Docker config (docker login) or, for ECR, the IAM permissions ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (%v)", e.Host, e.Ref, e.Err)
}

func (e *RegistryRefusedError) Unwrap() error { return e.Err }

// ExplainRefusal turns an error in which a registry refused a pull's login
// into a RegistryRefusedError that names the registry and what to check.
func ExplainRefusal(err error) error {
	var done *RegistryRefusedError
	if err == nil || errors.As(err, &done) {
		return err
	}
	msg := err.Error()
	m := refusedRef.FindStringSubmatch(msg)
	if m == nil || !refusedMsg.MatchString(msg) {
		return err
	}
	ref := m[1] + m[2]
	host := RefHost(ref)
	if at := refusedAt.FindStringSubmatch(msg); at != nil {
		host = at[1]
	}
	if host == "" {
		return err
	}
	if host == DockerHubHost {
		host = "docker.io"
	}
	return &RegistryRefusedError{Host: host, Ref: ref, Err: err}
}

// ResolveFault marks a build that failed resolving an image it pulls,
// which BuildKit asks its registry for once and does not retry:
// a *build.ResolveError, wrapping registry.ErrUnavailable when the registry
// failed rather than refused.
func ResolveFault(err error) error {
	var se *build.StepError
	if !errors.As(err, &se) {
		return err
	}
	ref, ok := strings.CutPrefix(se.Step, "[internal] load metadata for ")
	if !ok {
		return err
	}
	return &build.ResolveError{Ref: ref, Err: registry.Classify(err)}
}
