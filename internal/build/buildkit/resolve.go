package buildkit

import (
	"context"
	"fmt"
	"os"
	"path"
	"sync"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/bkit"
	"github.com/org/ms-build-action/internal/registry"
)

// ResolveBase asks the daemon what a base image reference stands for now:
// the daemon keeps no images of its own, so a build always resolves its
// bases in their registry (through the daemon's mirrors), as this does.
// auth is sent only to ref's registry.
func (b *Builder) ResolveBase(ctx context.Context, ref string, auth build.Auth, _ bool) (string, error) {
	var dgst string
	full := normalized(ref)
	err := b.gateway(ctx, withLogin{auth: auth, ref: full}, func(ctx context.Context, gw gateway.Client) error {
		p := b.firstPlatform()
		_, d, _, err := gw.ResolveImageConfig(ctx, full, sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{Platform: p, ResolveMode: "pull"}})
		dgst = d.String()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("resolving base image %s in its registry: %w", ref, registry.Classify(bkit.ExplainRefusal(err)))
	}
	return dgst, nil
}

// normalized is ref as the daemon resolves it, as a Dockerfile's FROM
// means it: msb-example/runtime:1 is docker.io/msb-example/runtime:1, and
// a name without tag or digest is :latest. A ref that does not parse is
// left as it is, for the daemon to refuse.
func normalized(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.TagNameOnly(named).String()
}

// Pull makes sure a cache image can be read with auth: a build reads it
// from its registry (a cache import), not from the daemon's store.
func (b *Builder) Pull(ctx context.Context, ref string, auth build.Auth) error {
	err := b.gateway(ctx, withLogin{auth: auth, ref: ref}, func(ctx context.Context, gw gateway.Client) error {
		_, _, _, err := gw.ResolveImageConfig(ctx, ref, sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{Platform: b.firstPlatform(), ResolveMode: "pull"}})
		return err
	})
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, registry.Classify(err))
	}
	return nil
}

// firstPlatform is the platform images are resolved for: the first built.
func (b *Builder) firstPlatform() *ocispecs.Platform {
	if len(b.platforms) == 0 {
		return nil
	}
	p, err := platforms.Parse(b.platforms[0])
	if err != nil {
		return nil
	}
	return &p
}

// gateway runs f in a session that answers registry logins from creds, and
// builds nothing.
func (b *Builder) gateway(ctx context.Context, creds build.Credentials, f func(ctx context.Context, gw gateway.Client) error) error {
	attach, err := bkit.Attachables(build.Spec{Registries: creds})
	if err != nil {
		return err
	}
	_, err = b.c.Build(ctx, client.SolveOpt{Session: attach}, "ms-build", func(ctx context.Context, gw gateway.Client) (*gateway.Result, error) {
		if err := f(ctx, gw); err != nil {
			return nil, err
		}
		return gateway.NewResult(), nil
	}, nil)
	return err
}

// withLogin answers with auth for ref's registry, and asks other for the
// rest.
type withLogin struct {
	auth  build.Auth
	ref   string
	other build.Credentials
}

func (w withLogin) Credentials(ctx context.Context, host string) (build.Auth, error) {
	if w.auth.Password != "" && host == bkit.RefHost(w.ref) {
		return build.Auth{Host: host, Username: w.auth.Username, Password: w.auth.Password}, nil
	}
	if w.other != nil {
		return w.other.Credentials(ctx, host)
	}
	return build.Auth{}, nil
}

// imageSize is the size of the files of the result's images: of each
// platform's, when there are several.
func imageSize(ctx context.Context, res *gateway.Result) (int64, error) {
	refs := []gateway.Reference{res.Ref}
	if res.Ref == nil {
		refs = refs[:0]
		for _, r := range res.Refs {
			refs = append(refs, r)
		}
	}
	var total int64
	for _, r := range refs {
		if r == nil {
			continue
		}
		n, err := filesSize(ctx, r)
		if err != nil {
			return 0, fmt.Errorf("sizing the image: %w", err)
		}
		total += n
	}
	return total, nil
}

// filesSize adds up the sizes of a filesystem's regular files, reading its
// directories a few at a time.
func filesSize(ctx context.Context, r gateway.Reference) (int64, error) {
	var (
		mu    sync.Mutex
		total int64
	)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := r.ReadDir(ctx, gateway.ReadDirRequest{Path: dir})
		if err != nil {
			return err
		}
		var n int64
		for _, e := range entries {
			mode := os.FileMode(e.Mode)
			switch {
			case mode.IsDir():
				sub := path.Join(dir, e.Path)
				if !g.TryGo(func() error { return walk(sub) }) {
					if err := walk(sub); err != nil {
						return err
					}
				}
			case mode.IsRegular():
				n += e.Size
			}
		}
		mu.Lock()
		total += n
		mu.Unlock()
		return nil
	}
	g.Go(func() error { return walk("/") })
	err := g.Wait()
	return total, err
}
