package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/docker/go-units"

	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/registry"
)

// Growth is how much an image may grow against the default branch's current
// image: Bytes, or Percent of that image's size. The zero Growth is no limit.
type Growth struct {
	Bytes   int64
	Percent float64
}

func (g Growth) set() bool { return g.Bytes > 0 || g.Percent > 0 }

// limit is the growth allowed over an image of base bytes.
func (g Growth) limit(base int64) int64 {
	if g.Percent > 0 {
		return int64(float64(base) * g.Percent / 100)
	}
	return g.Bytes
}

func (g Growth) String() string {
	if g.Percent > 0 {
		return fmt.Sprintf("%g%%", g.Percent)
	}
	return units.HumanSize(float64(g.Bytes))
}

// SizeChange is how the pushed image compares with the default branch's
// current image (its base here), in compressed bytes as ECR counts them.
type SizeChange struct {
	Base       string // what points at the base: the default branch's runtime record, or latest
	BaseRef    string // host/repository@digest
	BaseSize   int64
	DeltaBytes int64 // the pushed image's size less the base's
	// Layers are the layers that changed most, the largest change first;
	// nil when the images are the same or their histories could not be read.
	Layers []LayerChange
}

// LayerChange is one layer added, removed, grown or shrunk.
type LayerChange struct {
	CreatedBy     string // the history entry that made it ("" when unknown)
	Before, After int64  // compressed sizes; 0 for a layer added or removed
	Kind          string // LayerAdded, LayerRemoved, LayerGrown or LayerShrunk
}

// The kinds of LayerChange.
const (
	LayerAdded   = "added"
	LayerRemoved = "removed"
	LayerGrown   = "grown"
	LayerShrunk  = "shrunk"
)

// maxLayerChanges is how many changed layers a SizeChange lists.
const maxLayerChanges = 5

// baseImage is the default branch's current image, as the run found it.
type baseImage struct {
	looked   bool // the lookup ran: found or not, it is not made again
	failed   bool // the lookup failed: nothing is known
	found    bool
	name     string
	digest   string
	size     int64
	manifest []byte
}

// baseTags are the tags that point at the default branch's current image,
// the surest first: the branch's runtime record (read only by a run that
// reads caches and records), then latest.
func (r *run) baseTags() []string {
	var tags []string
	if b := r.in.Commit.DefaultBranch; b != "" && r.caching() {
		tags = append(tags, cache.RuntimeCacheTag(b))
	}
	return append(tags, "latest")
}

// noteBase takes the base image from a lookup of (at least) baseTags.
func (r *run) noteBase(found map[string]registry.Manifest) {
	r.base = baseImage{looked: true}
	for _, tag := range r.baseTags() {
		m, ok := found[tag]
		if !ok {
			continue
		}
		body, name, size := m.Body, tag, int64(-1)
		if tag != "latest" {
			rd, err := cache.ReadRecorded(m.Body)
			if err != nil || len(rd.Manifest) == 0 {
				continue
			}
			body, name, size = rd.Manifest, "the "+r.in.Commit.DefaultBranch+" branch's last build", rd.Size
		}
		_, layers, err := cache.ImageLayers(body)
		if err != nil {
			continue // an index, or not an image: nothing to compare
		}
		if size < 0 {
			size = cache.ImageSize(layers)
		}
		r.base = baseImage{looked: true, found: true, name: name, digest: registry.Manifest{Body: body}.Digest(), size: size, manifest: body}
		return
	}
}

// findBase looks the base image up with one request, unless the skip's
// lookup already did (a skip lookup that failed is made again here). A
// lookup that fails is a warning: sizes are not compared, and
// max-image-growth is not checked.
func (r *run) findBase(ctx context.Context) {
	if r.base.looked {
		return
	}
	found, err := r.Publisher.Lookup(ctx, r.baseTags())
	switch {
	case errors.Is(err, registry.ErrNotFound):
		r.base = baseImage{looked: true}
	case err != nil:
		r.baseFailed(ctx, err)
	default:
		r.noteBase(found)
	}
}

// baseFailed notes that looking up the default branch's image failed.
func (r *run) baseFailed(ctx context.Context, err error) {
	r.base = baseImage{looked: true, failed: true}
	if ctx.Err() == nil {
		unchecked := ""
		if r.in.MaxImageGrowth.set() {
			unchecked = ": max-image-growth was not checked"
		}
		r.warn("looking up the default branch's image to compare sizes: %v%s", err, unchecked)
	}
}

// compareSize compares the pushed image with the default branch's current
// image, then fails the run when it grew more than max-image-growth, before
// any tag is attached. Reading the layers' history never fails the run.
func (r *run) compareSize(ctx context.Context) error {
	r.findBase(ctx)
	b := r.base
	if !b.found {
		if r.in.MaxImageGrowth.set() && !b.failed {
			r.Log.Note(Note{Level: Notice, Title: "max-image-growth", Message: "no image of the default branch to compare with: the growth check passes"})
		}
		return nil
	}
	c := &SizeChange{Base: b.name, BaseRef: r.repo.ref + "@" + b.digest, BaseSize: b.size, DeltaBytes: r.pushed.size - b.size}
	// A skip reads no layers: it has not logged in, and does little. A
	// build reads them beside the tagging: only the summary needs them.
	if b.digest != r.pushed.digest && !r.skipped {
		r.bg.start(ctx, func(ctx context.Context) {
			layers, err := r.layerChanges(ctx, b.manifest)
			if err != nil && ctx.Err() == nil {
				r.warn("reading the layers' history to compare with %s: %v", c.BaseRef, err)
			}
			c.Layers = layers
		})
	}
	r.sizeChange = c
	r.Log.Infof("Size against %s (%s): %s%s", c.BaseRef, b.name, signedSize(c.DeltaBytes), percentOf(c.DeltaBytes, b.size))
	return r.checkGrowth(c)
}

// checkGrowth fails the run when the image grew more than max-image-growth.
func (r *run) checkGrowth(c *SizeChange) error {
	g := r.in.MaxImageGrowth
	if !g.set() || c.DeltaBytes <= g.limit(c.BaseSize) {
		return nil
	}
	return &InputError{Input: "max-image-growth", Msg: fmt.Sprintf("the image grew by %s%s to %s compressed (%d bytes), against %s (%s, %s): over the limit of %s: no tag was attached; make the image smaller or raise max-image-growth",
		units.HumanSize(float64(c.DeltaBytes)), percentOf(c.DeltaBytes, c.BaseSize), units.HumanSize(float64(r.pushed.size)), r.pushed.size, c.BaseRef, c.Base, units.HumanSize(float64(c.BaseSize)), g)}
}

func signedSize(n int64) string {
	if n < 0 {
		return "-" + units.HumanSize(float64(-n))
	}
	return "+" + units.HumanSize(float64(n))
}

func percentOf(n, base int64) string {
	if base <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%+.1f%%)", 100*float64(n)/float64(base))
}

// layerChanges reads both images' configs (one request each, at once) and
// compares their layers.
func (r *run) layerChanges(ctx context.Context, baseManifest []byte) ([]LayerChange, error) {
	oldCfg, oldLayers, err := cache.ImageLayers(baseManifest)
	if err != nil {
		return nil, err
	}
	newCfg, newLayers, err := cache.ImageLayers(r.pushed.manifest.Body)
	if err != nil {
		return nil, nil // an index: its platforms' layers are not compared
	}
	var (
		oldBody, newBody []byte
		oerr, nerr       error
		wg               sync.WaitGroup
	)
	wg.Go(func() { oldBody, oerr = r.Publisher.Blob(ctx, oldCfg) })
	newBody, nerr = r.Publisher.Blob(ctx, newCfg)
	wg.Wait()
	if err := errors.Join(oerr, nerr); err != nil {
		return nil, err
	}
	if oldLayers, err = cache.WithHistory(oldLayers, oldBody); err != nil {
		return nil, err
	}
	if newLayers, err = cache.WithHistory(newLayers, newBody); err != nil {
		return nil, err
	}
	return diffLayers(oldLayers, newLayers), nil
}

// diffLayers matches the new image's layers with the old's: the same layer
// at the same place, else the first unmatched old layer made by the same
// history entry. What is left of the new is added, of the old removed.
// The largest changes come first, at most maxLayerChanges.
func diffLayers(old, new []cache.Layer) []LayerChange {
	used := make([]bool, len(old))
	var out []LayerChange
	for i, n := range new {
		k := matchLayer(old, used, n, i)
		if k < 0 {
			out = append(out, LayerChange{CreatedBy: n.CreatedBy, After: n.Size, Kind: LayerAdded})
			continue
		}
		used[k] = true
		switch o := old[k]; {
		case n.Size > o.Size:
			out = append(out, LayerChange{CreatedBy: n.CreatedBy, Before: o.Size, After: n.Size, Kind: LayerGrown})
		case n.Size < o.Size:
			out = append(out, LayerChange{CreatedBy: n.CreatedBy, Before: o.Size, After: n.Size, Kind: LayerShrunk})
		}
	}
	for k, o := range old {
		if !used[k] {
			out = append(out, LayerChange{CreatedBy: o.CreatedBy, Before: o.Size, Kind: LayerRemoved})
		}
	}
	slices.SortStableFunc(out, func(a, b LayerChange) int { return cmp.Compare(abs(b.After-b.Before), abs(a.After-a.Before)) })
	if len(out) > maxLayerChanges {
		out = out[:maxLayerChanges]
	}
	return out
}

// matchLayer is the old layer that new layer n, at place i, stands for:
// the one at the same place when it is the same layer or was made by the
// same history entry, else the first unmatched one that is the same layer,
// else the first unmatched one made by the same entry; -1 when none is.
func matchLayer(old []cache.Layer, used []bool, n cache.Layer, i int) int {
	same := func(o cache.Layer) bool { return o.Digest == n.Digest }
	made := func(o cache.Layer) bool { return n.CreatedBy != "" && o.CreatedBy == n.CreatedBy }
	if i < len(old) && !used[i] && (same(old[i]) || made(old[i])) {
		return i
	}
	for _, f := range []func(cache.Layer) bool{same, made} {
		for j, o := range old {
			if !used[j] && f(o) {
				return j
			}
		}
	}
	return -1
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
