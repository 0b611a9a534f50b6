package docker

import (
	"bytes"
	"context"
	"fmt"

	"github.com/moby/moby/api/types/registry"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/bkit"
	"github.com/org/ms-build-action/internal/dockerfile"
)

// dockerHubKey is the name Docker Hub's login goes by in X-Registry-Config.
const dockerHubKey = "https://index.docker.io/v1/"

// registryConfig is the same logins for a build without a session (the tar
// fallback), sent as X-Registry-Config: the registries of the Dockerfile's
// base images and of the cache sources. BuildKit in the engine (20.10 and
// later) does not read them (only the legacy builder does), so pullBases
// pulls the bases that need a login first; a registry whose login cannot be
// had is left out.
func registryConfig(ctx context.Context, o build.Spec) map[string]registry.AuthConfig {
	if o.Registries == nil {
		return nil
	}
	out := map[string]registry.AuthConfig{}
	for _, ref := range append(baseRefs(o), o.CacheFrom...) {
		host := bkit.RefHost(ref)
		key := host
		if host == bkit.DockerHubHost {
			key = dockerHubKey
		}
		if _, ok := out[key]; ok || host == "" {
			continue
		}
		c, err := login(ctx, o.Registries, host)
		if err != nil || c.Password == "" {
			continue
		}
		ac := registry.AuthConfig{Username: c.Username, Password: c.Password, ServerAddress: host}
		if c.Username == "" {
			ac = registry.AuthConfig{IdentityToken: c.Password, ServerAddress: host}
		}
		out[key] = ac
	}
	return out
}

// pullBases pulls into the engine's store, with their logins, the base
// images of a build without a session whose registries have a login: with
// no session BuildKit pulls anonymously, but it takes an image from the
// engine's store first. An image the engine has is pulled again only when
// o.Pull asks for it.
func (e *Engine) pullBases(ctx context.Context, o build.Spec) error {
	if o.Registries == nil {
		return nil
	}
	for _, ref := range baseRefs(o) {
		host := bkit.RefHost(ref)
		if host == "" {
			continue
		}
		c, err := login(ctx, o.Registries, host)
		if err != nil {
			return fmt.Errorf("pulling base image %s: %w", ref, err)
		}
		if c.Password == "" {
			continue
		}
		if !o.Pull {
			if _, err := e.c.ImageInspect(ctx, ref); err == nil {
				continue
			}
		}
		if err := e.Pull(ctx, ref, build.Auth{Host: host, Username: c.Username, Password: c.Password}); err != nil {
			return bkit.ExplainRefusal(err)
		}
	}
	return nil
}

// login is the login for host, or none when the answer is for another host.
func login(ctx context.Context, creds build.Credentials, host string) (build.Auth, error) {
	c, err := creds.Credentials(ctx, host)
	if err != nil || (c.Host != "" && c.Host != host) {
		return build.Auth{}, err
	}
	return c, nil
}

// baseRefs are the image references the Dockerfile's stages start FROM
// (global ARGs expanded with the build's arguments), once each.
func baseRefs(o build.Spec) []string {
	if o.Context == nil {
		return nil
	}
	df, err := dockerfile.Parse(bytes.NewReader(o.Context.Dockerfile()), dockerfile.WithBuildArgs(o.BuildArgs))
	if err != nil {
		return nil
	}
	var refs []string
	seen := map[string]bool{}
	for _, s := range df.Stages {
		if s.Parent < 0 && s.Base != "scratch" && !seen[s.Base] {
			seen[s.Base] = true
			refs = append(refs, s.Base)
		}
	}
	return refs
}
