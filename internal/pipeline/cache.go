package pipeline

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/registry"
	"github.com/org/ms-build-action/internal/retry"
)

// caching reports whether the run reads and writes the registry's caches
// and skip records: cache on and no-cache off. no-cache goes further than
// cache off: the builder uses no cached step either.
func (r *run) caching() bool { return r.in.Cache && !r.in.NoCache }

// branches are the branches whose caches a build may start from: its own,
// then a pull request's base branch, then the default branch, as
// restore-keys do.
func (r *run) branches() []string {
	var out []string
	for _, b := range []string{r.in.Commit.Branch, r.in.Commit.BaseBranch, r.in.Commit.DefaultBranch} {
		if b != "" && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// restore pulls the build stage's cache (the dependency key's, else the
// newest of the branch, else of the default branch) and the branch's last
// runtime image, for BuildKit to use as cache sources. Where they are comes
// from the skip's lookup (or one lookup of its own when there was none); the
// two pulls run side by side. Nothing here can fail the run: a cache that
// cannot be used is a warning and a full build.
func (r *run) restore(ctx context.Context) {
	if !r.caching() || r.plan.buildStage == nil {
		return
	}
	_ = r.timed("cache restore", func() error {
		found := r.found
		if found == nil {
			// The skip's lookup did not run or failed: one of its own,
			// which finds the default branch's image to compare sizes
			// with too.
			var err error
			if found, err = r.Publisher.Lookup(ctx, unique(append(r.cacheTags(), r.baseTags()...))); err != nil {
				if !errors.Is(err, registry.ErrNotFound) && ctx.Err() == nil {
					r.warn("looking up caches: %v: building without a cache", err)
					r.baseFailed(ctx, err)
				}
				return nil
			}
			r.noteBase(found)
		}
		var wg sync.WaitGroup
		wg.Go(func() { r.restoreBuildStage(ctx, found) })
		wg.Go(func() {
			for _, b := range r.branches() {
				if _, ok := found[cache.RuntimeCacheTag(b)]; ok {
					if ref, ok, _ := r.pullCache(ctx, cache.RuntimeCacheTag(b)); ok {
						r.runtimeFrom = []string{ref}
					}
					return
				}
			}
		})
		wg.Wait()
		return nil
	})
}

// cacheTags are the tags restore looks for: the dependency key's build
// cache, each branch's build cache, and each branch's runtime image.
func (r *run) cacheTags() []string {
	tags := []string{cache.CacheTag(r.plan.depKey)}
	for _, pk := range r.plan.platformKeys {
		tags = append(tags, cache.CacheTag(pk.key))
	}
	for _, b := range r.branches() {
		tags = append(tags, cache.BranchCacheTag(b))
	}
	for _, b := range r.branches() {
		tags = append(tags, cache.RuntimeCacheTag(b))
	}
	return tags
}

// restoreBuildStage pulls the first of the build stage's caches that the
// registry has and the builder can use.
func (r *run) restoreBuildStage(ctx context.Context, found map[string]registry.Manifest) {
	if r.restorePlatforms(ctx, found) {
		return
	}
	key := r.plan.depKey
	candidates := []string{cache.CacheTag(key)}
	for _, b := range r.branches() {
		candidates = append(candidates, cache.BranchCacheTag(b))
	}
	for i, tag := range candidates {
		if _, ok := found[tag]; !ok {
			continue
		}
		ref, ok, fault := r.pullCache(ctx, tag)
		if fault {
			// The other caches are in the same registry: build without
			// them rather than spend the run's time on it.
			return
		}
		if ok {
			r.buildCacheFrom = []string{ref}
			r.cacheHit = i == 0
			if r.cacheHit {
				r.Log.Infof("Cache hit: cache key %s (%s)", key.Short(), ref)
			} else {
				r.Log.Infof("Cache miss for key %s: starting from %s", key.Short(), ref)
			}
			return
		}
	}
	r.Log.Infof("Cache miss for key %s: no build cache of the key or the branch yet", key.Short())
}

// restorePlatforms restores each platform's own build cache, when the run
// builds several platforms and the registry has every one of them (from
// runs of each platform alone, or of the same platforms): that is a hit.
// Otherwise the caches of the platforms together, then the branch's, are
// looked for.
func (r *run) restorePlatforms(ctx context.Context, found map[string]registry.Manifest) bool {
	pks := r.plan.platformKeys
	if len(pks) == 0 {
		return false
	}
	for _, pk := range pks {
		if _, ok := found[cache.CacheTag(pk.key)]; !ok {
			return false
		}
	}
	var refs []string
	for _, pk := range pks {
		ref, ok, _ := r.pullCache(ctx, cache.CacheTag(pk.key))
		if !ok {
			return false
		}
		refs = append(refs, ref)
	}
	r.buildCacheFrom, r.cacheHit = refs, true
	r.Log.Infof("Cache hit: each platform's cache key (%s)", strings.Join(refs, ", "))
	return true
}

// pullCache pulls one cache image, which the repository has, into the
// builder. fault says the registry failed rather than answered: the restore
// stops, as the caches' budget for faults would otherwise go on the others.
// A pull runs under what is left of that budget once a fault was seen.
func (r *run) pullCache(ctx context.Context, tag string) (ref string, ok, fault bool) {
	ref = r.repo.ref + ":" + tag
	var err error
	for try := 1; ; try++ {
		if err = r.pull(ctx, ref); err == nil || ctx.Err() != nil || errors.Is(err, retry.ErrSpent) || !errors.Is(err, registry.ErrUnavailable) {
			break
		}
		// The other cache's pull gave up on the same registry.
		if try == retry.Tries || !r.cacheBudget.Allows(retry.Pause(try)) || r.cacheFault.Load() {
			break
		}
		r.Log.Infof("Pull of cache %s failed (%v): trying again (%d of %d)", tag, err, try+1, retry.Tries)
		if r.pause(ctx, try) != nil {
			break
		}
	}
	if err == nil {
		return ref, true, false
	}
	if ctx.Err() != nil {
		return "", false, false
	}
	fault = errors.Is(err, registry.ErrUnavailable) || errors.Is(err, retry.ErrSpent)
	if fault {
		r.cacheFault.Store(true)
		r.warn("cache %s could not be pulled: the registry %s keeps failing (%v): building without a cache; check the registry's status and the network", tag, hostOf(r.repo.ref), err)
		return "", false, true
	}
	r.warn("cache %s could not be used (%v): building without it", tag, err)
	return "", false, false
}

// pull pulls a cache into the builder once: under what is left of the
// caches' budget once a fault was seen, and counting the fault it meets.
func (r *run) pull(ctx context.Context, ref string) error {
	if !r.cacheBudget.Allows(0) {
		return retry.ErrSpent
	}
	began := r.Now()
	pctx, cancel := r.cacheBudget.Bound(ctx)
	defer cancel()
	auth, err := r.creds.fresh(ctx)
	if err != nil {
		return err
	}
	err = r.Builder.Pull(pctx, ref, auth)
	switch {
	case err == nil:
	case errors.Is(context.Cause(pctx), retry.ErrSpent):
		err = spentIn(err)
	case errors.Is(err, registry.ErrUnavailable):
		// The engine may have retried a layer for up to
		// retry.EngineRetries before it gave up: that counts.
		r.cacheBudget.Fault(latest(began, r.Now().Add(-retry.EngineRetries)))
	}
	return err
}

// storeCache pushes the build stage as the dependency key's cache after a
// miss, and points the branch's cache tag at it. It never fails the run: a
// cache that is not stored is a warning. A run that may not write caches
// (an untrusted one) stores none: a later trusted run would build on it.
func (r *run) storeCache(ctx context.Context, imageID string) {
	if !r.in.CacheWrite {
		return
	}
	t := r.Now()
	tag := cache.CacheTag(r.plan.depKey)
	if _, err := r.push(ctx, r.cacheBudget, imageID, tag); err != nil {
		if ctx.Err() == nil {
			r.warn("storing the build cache: %v", err)
		}
		return
	}
	r.Log.Infof("Stored the build cache %s:%s (%.1fs)", r.repo.ref, tag, r.Now().Sub(t).Seconds())
	r.storePlatformCaches(ctx, tag)
	r.bg.timed(Timing{Name: "build cache store (beside the runtime build)", Duration: r.Now().Sub(t)})
	r.pointBranchCache(ctx)
}

// storePlatformCaches tags each platform's image of the build stage's
// cache (an index, when the run builds several platforms) with that
// platform's own key: no blob moves, and a later run of any of the
// platforms, alone or together, finds its cache.
func (r *run) storePlatformCaches(ctx context.Context, tag string) {
	if len(r.plan.platformKeys) == 0 {
		return
	}
	m, err := r.Publisher.Manifest(ctx, tag)
	if err != nil || !cache.IsIndex(m.MediaType) {
		if ctx.Err() == nil {
			r.warn("tagging each platform's build cache: %v", err)
		}
		return
	}
	images, err := cache.IndexPlatforms(m.Body)
	for _, pk := range r.plan.platformKeys {
		d, ok := images[pk.platform]
		if err != nil || !ok {
			r.warn("tagging each platform's build cache: the cache %s has no %s image", tag, pk.platform)
			continue
		}
		img, err := r.Publisher.Manifest(ctx, d)
		if err == nil {
			err = r.Publisher.Put(ctx, cache.CacheTag(pk.key), img)
		}
		if err != nil && ctx.Err() == nil {
			r.warn("tagging the %s build cache: %v", pk.platform, err)
		}
	}
}

// pointBranchCache points the branch's build cache tag at the dependency
// key's cache, when the run may write caches.
func (r *run) pointBranchCache(ctx context.Context) {
	if !r.in.CacheWrite || r.in.Commit.Branch == "" || r.repo.immutable {
		return
	}
	keyTag := cache.CacheTag(r.plan.depKey)
	m, err := r.Publisher.Manifest(ctx, keyTag)
	if err == nil {
		err = r.Publisher.Put(ctx, cache.BranchCacheTag(r.in.Commit.Branch), m)
	}
	if err != nil && ctx.Err() == nil {
		r.warn("pointing the branch's build cache at %s: %v", keyTag, err)
	}
}
