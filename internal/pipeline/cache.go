package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/org/ms-build-action/internal/action"
	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/dockerfile"
	"github.com/org/ms-build-action/internal/ecr"
)

// keys computes the dependency key that names the build stage's cache.
func (r *run) keys(ctx context.Context) error {
	if !r.in.Cache {
		return nil
	}
	platform, err := r.Engine.Platform(ctx)
	if err != nil {
		return err
	}
	r.platform = platform
	if r.buildStage != nil {
		in := cache.DependencyInput{
			FS:          r.bctx.FS(),
			Files:       r.in.CacheKeyFiles,
			StageSource: r.df.Source(r.buildStage),
			BuildArgs:   r.visibleArgs(r.buildStage),
			Platform:    platform,
			Salt:        r.in.CacheSalt,
		}
		k, err := cache.DependencyKey(in)
		var ie *cache.InputError
		if errors.As(err, &ie) {
			return &action.InputError{Input: ie.Input, Msg: ie.Msg}
		}
		if err != nil {
			return err
		}
		r.depKey = k
		r.out.CacheKey = k.Hex
		switch {
		case len(k.Files) == 0:
			r.Report.Annotate(action.Annotation{Level: action.Notice, Title: "cache",
				Message: "no dependency file was found in the build context, so the cache key covers only the build stage's Dockerfile text: set cache-key-files to the files your restore step reads"})
		default:
			r.Report.Infof("Cache key %s from %d dependency files (%s)", k.Short(), len(k.Files), summarize(k.Files))
		}
		if copyLine, runLine, ok := r.df.WholeContextCopy(r.buildStage); ok {
			eco := ""
			if len(k.Ecosystems) > 0 {
				eco = k.Ecosystems[0]
			}
			r.Report.Annotate(action.Annotation{Level: action.Notice, Title: "cache-friendly Dockerfile", File: r.dockerfilePath(), Line: copyLine,
				Message: fmt.Sprintf("this copies the whole context before the RUN at line %d, so any source change re-runs that step and all after it: no dependency key can keep the restore cached. Copy the dependency files first, restore, then copy the rest:\n%s", runLine, cache.Advice(eco))})
		}
	}
	return nil
}

// summarize names at most three files.
func summarize(files []string) string {
	if len(files) <= 3 {
		return strings.Join(files, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(files[:3], ", "), len(files)-3)
}

// visibleArgs are the build args stage s can read: those declared in it or
// in the stages it is FROM, and the global ones (they can change FROM).
func (r *run) visibleArgs(s *dockerfile.Stage) map[string]string {
	names := slices.Clone(r.df.GlobalArgs)
	for st := s; ; st = &r.df.Stages[st.Parent] {
		names = append(names, st.Args...)
		if st.Parent < 0 {
			break
		}
	}
	out := map[string]string{}
	for _, n := range names {
		if v, ok := r.buildArgs[n]; ok {
			out[n] = v
		}
	}
	return out
}

// computeSkipKey hashes everything that decides the image. A base image
// that cannot be resolved turns the skip check off for this run (the build
// goes on): an unresolved base could have moved.
func (r *run) computeSkipKey(ctx context.Context) (string, error) {
	bases := map[string]string{}
	for _, s := range r.closure(r.target) {
		if s.Parent >= 0 || s.Base == "scratch" || bases[s.Base] != "" {
			continue
		}
		id, err := r.Engine.ResolveBase(ctx, s.Base, r.engineAuth())
		if err != nil {
			r.Report.Annotate(action.Annotation{Level: action.Notice, Title: "skip check off", Message: fmt.Sprintf("%v: building without looking for an identical image", err)})
			return "", nil
		}
		bases[s.Base] = id
	}
	t := r.Now()
	key, err := cache.SkipKey(ctx, cache.SkipInput{
		FS:         r.bctx.FS(),
		Dockerfile: r.bctx.Dockerfile(),
		BuildArgs:  r.buildArgs,
		Target:     r.target.Ref(),
		Platform:   r.platform,
		Labels:     r.commitLabels(),
		Bases:      bases,
		Salt:       r.in.CacheSalt,
	})
	if err != nil {
		return "", err
	}
	r.timings = append(r.timings, action.Timing{Name: "skip key", Duration: r.Now().Sub(t)})
	return key, nil
}

// closure is s and every stage it depends on.
func (r *run) closure(s *dockerfile.Stage) []*dockerfile.Stage {
	seen := map[int]bool{}
	var out []*dockerfile.Stage
	var visit func(i int)
	visit = func(i int) {
		if i < 0 || seen[i] {
			return
		}
		seen[i] = true
		st := &r.df.Stages[i]
		out = append(out, st)
		visit(st.Parent)
		for _, c := range st.CopiesFrom {
			visit(c)
		}
	}
	visit(s.Index)
	return out
}

// trySkip looks for the record of an image built from the same inputs.
// When there is one, it attaches the requested tags to that image and
// reports it: nothing is built or pushed.
func (r *run) trySkip(ctx context.Context) (bool, error) {
	if r.skipKey == "" || r.reg == nil {
		return false, nil
	}
	rec, err := r.reg.Manifest(ctx, r.in.Repository, cache.SkipTag(r.skipKey))
	if err != nil {
		if !errors.Is(err, ecr.ErrImageNotFound) {
			r.warn("looking for an identical image: %v: building", err)
		}
		return false, nil
	}
	digest, key, err := cache.ReadRecord(rec.Body)
	if err != nil || key != r.skipKey {
		return false, nil
	}
	img, err := r.reg.Describe(ctx, r.in.Repository, digest)
	if err != nil {
		// The image the record marks was deleted: build it again.
		return false, nil
	}
	m, err := r.reg.Manifest(ctx, r.in.Repository, digest)
	if err != nil {
		return false, nil
	}
	r.Report.Infof("Skipping the build: %s was built from identical inputs (skip key %s)", r.repoRef()+"@"+digest, r.skipKey[:16])
	r.out.Skipped = true
	r.setImage(img)
	if id, err := cache.ConfigDigest(m.Body); err == nil {
		r.out.ImageID = id
	}
	if max := r.in.MaxImageSize; max > 0 && img.SizeBytes > max {
		return true, &action.InputError{Input: "max-image-size", Msg: fmt.Sprintf("the image is %s compressed (%d bytes), over the limit of %s: no tag was attached; make the image smaller or raise max-image-size", action.FormatSize(img.SizeBytes), img.SizeBytes, action.FormatSize(max))}
	}
	if err := r.attach(ctx, m); err != nil {
		return true, err
	}
	if tag := r.runtimeCacheTag(); tag != "" && !r.repo.Immutable {
		if err := r.reg.Put(ctx, r.in.Repository, tag, rec); err != nil {
			r.warn("updating the branch's runtime cache %s: %v", tag, err)
		}
	}
	return true, nil
}

// branches are the branches whose caches a build may start from: its own,
// then the default branch, as restore-keys do.
func (r *run) branches() []string {
	var out []string
	for _, b := range []string{r.CI.Branch, r.CI.DefaultBranch} {
		if b != "" && !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// runtimeCacheTag is the tag of the branch's runtime cache, "" when the
// build is for no branch (a tag, a detached head).
func (r *run) runtimeCacheTag() string {
	if r.CI.Branch == "" {
		return ""
	}
	return cache.RuntimeCacheTag(r.CI.Branch)
}

// restoreCache pulls the build stage's cache (the dependency key's, else the
// newest of the branch, else of the default branch) and the branch's last
// runtime image, for BuildKit to use as cache sources. Nothing here can fail
// the run: a cache that cannot be used is a warning and a full build.
func (r *run) restoreCache(ctx context.Context) {
	if !r.in.Cache || r.reg == nil || r.buildStage == nil {
		return
	}
	t := r.Now()
	defer func() { r.timings = append(r.timings, action.Timing{Name: "cache restore", Duration: r.Now().Sub(t)}) }()

	candidates := []string{cache.CacheTag(r.depKey)}
	for _, b := range r.branches() {
		candidates = append(candidates, cache.BranchCacheTag(b))
	}
	for i, tag := range candidates {
		if ref, ok := r.pullCache(ctx, tag); ok {
			r.buildCacheFrom = []string{ref}
			r.out.CacheHit = i == 0
			if i == 0 {
				r.Report.Infof("Cache hit: cache key %s (%s)", r.depKey.Short(), ref)
			} else {
				r.Report.Infof("Cache miss for key %s: starting from %s", r.depKey.Short(), ref)
			}
			break
		}
	}
	if len(r.buildCacheFrom) == 0 {
		r.Report.Infof("Cache miss for key %s: no build cache of the key or the branch yet", r.depKey.Short())
	}
	for _, b := range r.branches() {
		if ref, ok := r.pullCache(ctx, cache.RuntimeCacheTag(b)); ok {
			r.runtimeCacheFrom = []string{ref}
			break
		}
	}
}

// pullCache pulls one cache image into the engine, when the repository has it.
func (r *run) pullCache(ctx context.Context, tag string) (string, bool) {
	if _, err := r.reg.Describe(ctx, r.in.Repository, tag); err != nil {
		if !errors.Is(err, ecr.ErrImageNotFound) {
			r.warn("looking up cache %s: %v: building without it", tag, err)
		}
		return "", false
	}
	ref := r.repoRef() + ":" + tag
	auth, err := r.freshAuth(ctx)
	if err == nil {
		err = r.Engine.Pull(ctx, ref, auth)
	}
	if err != nil {
		if ctx.Err() == nil {
			r.warn("cache %s could not be used (%v): building without it", tag, err)
		}
		return "", false
	}
	return ref, true
}

// background runs f beside the rest of the run; Run waits for it before it
// reports, and cancels it when the run failed. One at a time.
func (r *run) background(ctx context.Context, f func(ctx context.Context)) {
	ctx, r.stopBackground = context.WithCancel(ctx)
	done := make(chan struct{})
	r.backgroundDone = done
	go func() {
		defer close(done)
		f(ctx)
	}()
}

// storeCache pushes the build stage as the dependency key's cache after a
// miss, and points the branch's cache tag at it. It never fails the run: a
// cache that is not stored is a warning.
func (r *run) storeCache(ctx context.Context) {
	t := r.Now()
	ref := r.repoRef() + ":" + cache.CacheTag(r.depKey)
	if err := r.Engine.Tag(ctx, r.buildImage.ID, ref); err != nil {
		r.warn("storing the build cache: %v", err)
		return
	}
	defer func() {
		cctx, cancel := cleanup(ctx)
		defer cancel()
		_ = r.Engine.Untag(cctx, ref)
	}()
	if _, err := r.push(ctx, ref); err != nil {
		if ctx.Err() == nil {
			r.warn("storing the build cache: %v", err)
		}
		return
	}
	r.Report.Infof("Stored the build cache %s (%.1fs)", ref, r.Now().Sub(t).Seconds())
	r.pointBranchCache(ctx)
}

// pointBranchCache points the branch's build cache tag at the dependency
// key's cache.
func (r *run) pointBranchCache(ctx context.Context) {
	if r.CI.Branch == "" || r.repo.Immutable {
		return
	}
	keyTag := cache.CacheTag(r.depKey)
	m, err := r.reg.Manifest(ctx, r.in.Repository, keyTag)
	if err == nil {
		err = r.reg.Put(ctx, r.in.Repository, cache.BranchCacheTag(r.CI.Branch), m)
	}
	if err != nil && ctx.Err() == nil {
		r.warn("pointing the branch's build cache at %s: %v", keyTag, err)
	}
}

// record marks the pushed image with its skip key, and makes it the branch's
// runtime cache, through a record manifest (never tags on the image itself).
func (r *run) record(ctx context.Context, m ecr.Manifest) {
	if r.skipKey == "" {
		return
	}
	body, err := cache.NewRecord(m.Body, m.MediaType, r.skipKey)
	if err != nil {
		r.warn("%v", err)
		return
	}
	rec := ecr.Manifest{Body: body, MediaType: cache.MediaTypeOCIManifest}
	tags := []string{cache.SkipTag(r.skipKey)}
	if tag := r.runtimeCacheTag(); tag != "" && !r.repo.Immutable {
		tags = append(tags, tag)
	}
	for _, tag := range tags {
		if err := r.reg.Put(ctx, r.in.Repository, tag, rec); err != nil {
			r.warn("recording the image for later runs (%s): %v", tag, err)
		}
	}
}
