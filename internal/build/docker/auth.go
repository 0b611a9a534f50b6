package docker

import (
	"context"

	"github.com/docker/docker/api/types/registry"
	"github.com/moby/buildkit/session"

	"github.com/org/ms-build-action/internal/build"
)

// authAttachable answers BuildKit's questions for registry logins (FROM,
// COPY --from, RUN --mount=from, cache sources) from o.Registries, through
// the session. nil when the build pulls anonymously.
func authAttachable(o build.Spec) session.Attachable {
	return nil // issue 9: the session's auth provider
}

// registryConfig is the same logins for a build without a session (the tar
// fallback): the engine takes them as X-Registry-Config.
func registryConfig(ctx context.Context, o build.Spec) map[string]registry.AuthConfig {
	return nil // issue 9
}
