package registry

import (
	"errors"
	"path"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/org/ms-build-action/internal/build"
)

// Repository is what a run needs to know of the repository it pushes to.
type Repository struct {
	Immutable bool // a tag, once set, cannot be moved
	// Exclusions are wildcard patterns ("*" is any text) of the tags that
	// Immutable does not hold for: in ECR's IMMUTABLE_WITH_EXCLUSION they
	// stay movable, in MUTABLE_WITH_EXCLUSION they are fixed.
	Exclusions []string
	Created    bool // created by this run
}

// Mutable tells whether tag may be moved to another image.
func (r Repository) Mutable(tag string) bool {
	excluded := false
	for _, p := range r.Exclusions {
		if ok, _ := path.Match(p, tag); ok {
			excluded = true
			break
		}
	}
	return r.Immutable == excluded
}

// Tag is one tag of a repository and when its image was pushed.
type Tag struct {
	Name     string
	Digest   string
	PushedAt time.Time
}

// Login is registry credentials and when they stop working.
type Login struct {
	build.Auth
	ExpiresAt time.Time // zero: they do not expire
}

// Image is what the registry reports of a pushed image.
type Image struct {
	Digest    string
	SizeBytes int64 // compressed, as the registry counts it (ECR's imageSizeInBytes)
}

// Manifest is a manifest's exact bytes and media type.
type Manifest struct {
	Body      []byte
	MediaType string
}

// Digest is the manifest's digest.
func (m Manifest) Digest() string { return digest.FromBytes(m.Body).String() }

// Expiry asks a repository to expire the tags that start with one of
// Prefixes once they are Days old. Release tags are never among them.
type Expiry struct {
	Prefixes []string
	Days     int
}

// The kinds of failure the run branches on. Adapters classify what their
// wire said and wrap one of these (errors.Is finds it); the run never reads
// an error's text.
var (
	// ErrNotFound: no image has that tag or digest.
	ErrNotFound = errors.New("not found")
	// ErrRepositoryMissing: the repository does not exist and may not be
	// created.
	ErrRepositoryMissing = errors.New("repository does not exist")
	// ErrAuthExpired: the registry refused credentials that had worked:
	// log in again and retry.
	ErrAuthExpired = errors.New("registry credentials expired")
	// ErrUnavailable: a fault that may pass (a 5xx, a reset connection):
	// retrying can help.
	ErrUnavailable = errors.New("registry unavailable")
)
