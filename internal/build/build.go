package build

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/org/ms-build-action/internal/buildcontext"
)

// Spec describes one BuildKit build of one target.
type Spec struct {
	Context     *buildcontext.Context
	Target      string // stage name; "" for the last stage
	Tags        []string
	BuildArgs   map[string]string
	Labels      map[string]string
	Network     string // "", default, host or none
	CacheFrom   []string
	InlineCache bool // write cache metadata into the image, for a later cache-from
	Pull        bool // resolve base images against their registry, not the builder's store
	NoCache     bool // run every step: use no cached result
	Secrets     []Secret
	SSH         []SSH
	// Registries answers for the registries the build pulls from (FROM,
	// COPY --from, cache sources); nil pulls anonymously.
	Registries Credentials
}

// Secret is one build secret for RUN --mount=type=secret: its value, or the
// file that holds it. It reaches the build only through the session: never
// a build argument, a layer, the image's history or a cache key.
type Secret struct {
	ID    string
	Value []byte
	File  string
}

// SSH is an SSH agent socket or private keys for RUN --mount=type=ssh.
type SSH struct {
	ID    string
	Paths []string // none: the agent at SSH_AUTH_SOCK
}

// Credentials gives the login for a registry host, when the builder asks.
// A zero Auth and a nil error mean: pull anonymously.
type Credentials interface {
	Credentials(ctx context.Context, host string) (Auth, error)
}

// Image is a built image in the builder's store.
type Image struct {
	ID   string // config digest
	Size int64  // uncompressed, as the builder counts it
}

// Auth is a registry login, handed to the builder per request and never
// written to a file.
type Auth struct {
	Host, Username, Password string
}

// Pushed is what a push reports.
type Pushed struct {
	Digest string // manifest digest
	Size   int64  // manifest length
	// ImageID is the image's id as pushed, when the push made the image
	// anew and it came out other than the build's (a standalone BuildKit
	// exports again for the push: the same layers, and inline cache
	// metadata that may differ); "" when it is the built image.
	ImageID string
}

// Step is one BuildKit vertex: a Dockerfile instruction or an internal step
// (loading the Dockerfile, exporting the image).
type Step struct {
	Name      string // as BuildKit names it: "[build 3/4] RUN dotnet publish"
	Cached    bool
	Started   time.Time
	Completed time.Time
	Err       string
	Log       []byte // what the step printed (the tail, when it printed a lot)
}

// Duration is how long the step ran.
func (s Step) Duration() time.Duration {
	if s.Started.IsZero() || s.Completed.IsZero() {
		return 0
	}
	return s.Completed.Sub(s.Started)
}

// Progress is told about steps as the build goes.
type Progress interface {
	// StepStarted is called once, when a step that is not cached starts.
	StepStarted(s Step)
	// StepDone is called once per step, when it completes, is found in the
	// cache or fails.
	StepDone(s Step)
}

// StepError is a build failure in a step.
type StepError struct {
	Step string // the step's name
	Msg  string // what the builder said
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s failed: %s", e.Step, e.Msg) }

// ErrNoBridge is a RUN step that asked the engine for its default network,
// the bridge, on an engine that has none (dockerd --bridge=none): no step's
// fault, and the same for every RUN step.
var ErrNoBridge = errors.New("the Docker engine has no bridge network for RUN steps")

// ResolveError is a build that failed before any step ran, resolving an
// image it pulls (FROM, COPY --from, RUN --mount=from). Err wraps
// registry.ErrUnavailable when the registry failed rather than refused.
type ResolveError struct {
	Ref string
	Err error
}

func (e *ResolveError) Error() string { return e.Err.Error() }
func (e *ResolveError) Unwrap() error { return e.Err }
