package pipeline

import (
	"context"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/registry"
)

// Builder builds images and moves them between its own store and
// registries. The Docker engine is one (internal/build/docker).
//
// Errors of Push and Pull wrap registry.ErrAuthExpired or
// registry.ErrUnavailable where the registry's answer says so; a failing
// Dockerfile step is a *build.StepError.
type Builder interface {
	// Check makes sure the builder answers, saying where it was looked for.
	Check(ctx context.Context) error
	// Platform is the builder's os/arch, which keys caches.
	Platform(ctx context.Context) (string, error)
	// ResolveBase says what a base image reference stands for now, as a
	// build would use it: an image id or a manifest digest. remote asks the
	// registry whatever the builder holds (a build with pull); otherwise a
	// base the builder holds is its own. auth is used only for ref's own
	// registry.
	ResolveBase(ctx context.Context, ref string, auth build.Auth, remote bool) (string, error)
	// Build builds one target and keeps it in the builder's store.
	Build(ctx context.Context, spec build.Spec, p build.Progress) (build.Image, error)
	// Push pushes a built image to ref (host/repository:tag).
	Push(ctx context.Context, imageID, ref string, auth build.Auth) (build.Pushed, error)
	// Pull fetches ref into the builder's store, as a cache source.
	Pull(ctx context.Context, ref string, auth build.Auth) error
	// Name gives a built image another name in the builder's store.
	Name(ctx context.Context, imageID, ref string) error
}

// CacheImporter is a Builder that reads its cache sources from their
// registry as it builds (a standalone BuildKit) rather than from its own
// store. BuildKit takes a step's cached result from whichever source
// answers first, and the runtime image's cache knows the build stage's
// steps but not their layers: after a cache hit such a builder builds the
// build stage on its own first, from the build cache, and the runtime
// build finds the stage's steps in the builder's own cache.
type CacheImporter interface {
	ImportsCaches() bool
}

func importsCaches(b Builder) bool {
	ci, ok := b.(CacheImporter)
	return ok && ci.ImportsCaches()
}

// Publisher is the repository a run publishes to. ECR is one
// (internal/ecr); a plain OCI registry serves the dry run.
//
// ref arguments are a tag or a digest ("sha256:..."). Errors wrap
// registry.ErrNotFound when no image has ref, and
// registry.ErrRepositoryMissing when the repository is missing and may not
// be created.
type Publisher interface {
	// Login returns credentials for the registry (a new token each call).
	Login(ctx context.Context) (registry.Login, error)
	// Repository finds the repository, creating it when create is true.
	Repository(ctx context.Context, create bool) (registry.Repository, error)
	// Expire sets the repository's rule that expires the run's own tags.
	Expire(ctx context.Context, e registry.Expiry) error
	// Describe returns what the registry reports of an image.
	Describe(ctx context.Context, ref string) (registry.Image, error)
	// Manifest returns a manifest's exact bytes.
	Manifest(ctx context.Context, ref string) (registry.Manifest, error)
	// Lookup returns the manifests that tags point at, in one request and
	// without a login; a tag that points at nothing is absent from the map.
	// A missing repository is ErrNotFound and ErrRepositoryMissing.
	Lookup(ctx context.Context, tags []string) (map[string]registry.Manifest, error)
	// Tagged lists the repository's tags with when their images were pushed
	// (page by page: ECR's adapter stops after 20,000 images).
	Tagged(ctx context.Context) ([]registry.Tag, error)
	// Put stores a manifest under a tag: no blob moves. A tag that already
	// points at the manifest is left as it is (immutable repositories).
	Put(ctx context.Context, tag string, m registry.Manifest) error
	// Untag removes a tag; an image left without tags goes with it.
	Untag(ctx context.Context, tag string) error
	// Blob returns a small blob's bytes (an image's config), checked
	// against its digest: one registry request, after Login.
	Blob(ctx context.Context, digest string) ([]byte, error)
}
