package buildkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	contentapi "github.com/containerd/containerd/api/services/content/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// inlineCacheKey is where an image config carries BuildKit's inline cache.
const inlineCacheKey = "moby.buildkit.cache.v0"

// sameImage tells whether the daemon's exports built and pushed (config
// digests for one platform, index digests for several) are one image but
// for the inline cache in their configs. A solve again writes the inline
// cache from the records the daemon holds then, which a build in between
// (or a registry cache it imported) may have changed: the files, the
// configuration and the history are the same, the cache links are not.
func (b *Builder) sameImage(ctx context.Context, built, pushed string) (bool, error) {
	if len(b.platforms) <= 1 {
		return b.sameConfig(ctx, built, pushed)
	}
	var bi, pi ocispecs.Index
	if err := b.readJSON(ctx, built, &bi); err != nil {
		return false, err
	}
	if err := b.readJSON(ctx, pushed, &pi); err != nil {
		return false, err
	}
	if len(bi.Manifests) != len(pi.Manifests) {
		return false, nil
	}
	for i := range bi.Manifests {
		var bm, pm ocispecs.Manifest
		if err := b.readJSON(ctx, bi.Manifests[i].Digest.String(), &bm); err != nil {
			return false, err
		}
		if err := b.readJSON(ctx, pi.Manifests[i].Digest.String(), &pm); err != nil {
			return false, err
		}
		sameLayers := slices.EqualFunc(bm.Layers, pm.Layers, func(x, y ocispecs.Descriptor) bool { return x.Digest == y.Digest })
		if !sameLayers || !samePlatform(bi.Manifests[i].Platform, pi.Manifests[i].Platform) {
			return false, nil
		}
		if same, err := b.sameConfig(ctx, bm.Config.Digest.String(), pm.Config.Digest.String()); err != nil || !same {
			return false, err
		}
	}
	return true, nil
}

func samePlatform(a, b *ocispecs.Platform) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.OS == b.OS && a.Architecture == b.Architecture && a.Variant == b.Variant
}

// sameConfig tells whether two image configs in the daemon's content
// store are equal but for their inline cache.
func (b *Builder) sameConfig(ctx context.Context, x, y string) (bool, error) {
	if x == y {
		return true, nil
	}
	var cx, cy map[string]json.RawMessage
	if err := b.readJSON(ctx, x, &cx); err != nil {
		return false, err
	}
	if err := b.readJSON(ctx, y, &cy); err != nil {
		return false, err
	}
	return sameButInlineCache(cx, cy)
}

// sameButInlineCache compares two configs' fields, the inline cache left
// out, each as canonical JSON.
func sameButInlineCache(x, y map[string]json.RawMessage) (bool, error) {
	delete(x, inlineCacheKey)
	delete(y, inlineCacheKey)
	if len(x) != len(y) {
		return false, nil
	}
	for k, vx := range x {
		vy, ok := y[k]
		if !ok {
			return false, nil
		}
		var ax, ay any
		if err := json.Unmarshal(vx, &ax); err != nil {
			return false, err
		}
		if err := json.Unmarshal(vy, &ay); err != nil {
			return false, err
		}
		jx, _ := json.Marshal(ax) // decoded JSON: it cannot fail
		jy, _ := json.Marshal(ay)
		if !bytes.Equal(jx, jy) {
			return false, nil
		}
	}
	return true, nil
}

// readJSON reads a blob of the daemon's content store into v.
func (b *Builder) readJSON(ctx context.Context, dgst string, v any) error {
	rc, err := b.c.ContentClient().Read(ctx, &contentapi.ReadContentRequest{Digest: dgst})
	if err != nil {
		return fmt.Errorf("reading %s from the daemon's content store: %w", dgst, err)
	}
	var data []byte
	for {
		r, err := rc.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s from the daemon's content store: %w", dgst, err)
		}
		data = append(data, r.Data...)
		if len(data) > 16<<20 {
			return fmt.Errorf("%s in the daemon's content store is over 16 MB: not an image's metadata", dgst)
		}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("reading %s from the daemon's content store: %w", dgst, err)
	}
	return nil
}
