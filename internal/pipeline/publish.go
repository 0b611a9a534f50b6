package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/registry"
	"github.com/org/ms-build-action/internal/retry"
	"github.com/org/ms-build-action/internal/tags"
)

// repo is the repository the run pushes to.
type repo struct {
	ref string // host/name, known once logged in or from a skip record
	// immutable: the run's own cache tags cannot move. Set by prepare; read
	// once ready is closed.
	immutable bool
	info      registry.Repository

	ready chan struct{} // closed when prepare is done; nil before connect
	err   error         // prepare's error, once ready is closed
	took  time.Duration // how long prepare took, beside the build
	// missing: the skip's lookup found no repository.
	missing bool
	// tagged is the repository's tags as prepare listed them (none in a
	// repository the run created), for the latest decision; listed tells
	// that they are known.
	tagged []registry.Tag
	listed bool
}

// connect logs in to the registry (the restore and the build may pull from
// it at once), then prepares the repository beside the build: finding or
// creating it, and sweeping what crashed runs left. A run that cannot push
// still fails early: the build is cancelled when the repository cannot be
// used, and every push waits for it.
func (r *run) connect(ctx context.Context) (context.Context, error) {
	if err := r.login(ctx); err != nil {
		return ctx, err
	}
	r.repo.ready = make(chan struct{})
	if r.repo.missing && !r.in.CreateRepository {
		// Known to fail: say so before building.
		r.repo.err = r.prepare(ctx)
		close(r.repo.ready)
		if r.repo.err != nil {
			return ctx, r.repo.err
		}
		return ctx, nil
	}
	bctx, cancel := context.WithCancelCause(ctx)
	r.cancelBuild = cancel
	r.bg.start(ctx, func(ctx context.Context) {
		defer close(r.repo.ready)
		t := r.Now()
		if err := r.prepare(ctx); err != nil {
			r.repo.err = err
			cancel(err)
			return
		}
		r.repo.took = r.Now().Sub(t)
	})
	return bctx, nil
}

// login gets the registry's credentials once and names the repository by
// the registry's host.
func (r *run) login(ctx context.Context) error {
	if r.creds.pub != nil {
		return nil
	}
	r.creds = creds{pub: r.Publisher, log: r.Log, now: r.Now}
	l, err := r.creds.login(ctx)
	if err != nil {
		r.creds.pub = nil
		return err
	}
	r.repo.ref = l.Host + "/" + r.in.Repository
	return nil
}

// prepare makes sure the repository exists, sets the lifecycle policy of a
// repository it created and sweeps leftover staging tags.
func (r *run) prepare(ctx context.Context) error {
	rp, err := r.Publisher.Repository(ctx, r.in.CreateRepository)
	if err != nil {
		return err
	}
	r.repo.info = rp
	// The run's own cache tags all share one prefix, which a repository
	// ms-build creates keeps movable.
	r.repo.immutable = !rp.Mutable(cache.CacheTagPrefix + "0")
	if rp.Created {
		r.Log.Infof("Created repository %s (scan on push; tags immutable except latest, the build caches and ms-build's records)", r.in.Repository)
		e := registry.Expiry{Prefixes: cache.ExpiringTagPrefixes, Days: r.in.CacheRetention}
		if err := r.Publisher.Expire(ctx, e); err != nil {
			r.warn("the lifecycle policy that expires build caches was not set: %v", err)
		} else {
			r.Log.Infof("Set its lifecycle policy: build caches and skip records expire after %d days; release tags are never touched", r.in.CacheRetention)
		}
		r.repo.listed = true // a new repository holds no release
		return nil
	}
	r.sweep(ctx)
	return nil
}

// prepared waits for prepare and returns its error.
func (r *run) prepared(ctx context.Context) error {
	if r.repo.ready == nil {
		return errors.New("the repository was used before the run connected to it")
	}
	select {
	case <-r.repo.ready:
		return r.repo.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leftoverAge is how old a staging tag must be before a run takes it for
// the leftover of a crashed run: a younger one may be a concurrent run's.
const leftoverAge = time.Hour

// sweep untags the staging tags that crashed runs left, with one listing
// (only when building). A staging tag's age is the time in its name, else
// its image's push time. It never fails the run.
func (r *run) sweep(ctx context.Context) {
	tags, err := r.Publisher.Tagged(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.warn("looking for staging tags left by crashed runs: %v", err)
		}
		return
	}
	r.repo.tagged, r.repo.listed = tags, true
	for _, t := range tags {
		if !strings.HasPrefix(t.Name, cache.StagingTagPrefix) {
			continue
		}
		at := t.PushedAt
		if s, ok := stagedAt(t.Name); ok {
			at = s
		}
		if at.IsZero() || r.Now().Sub(at) < leftoverAge {
			continue
		}
		if err := r.Publisher.Untag(ctx, t.Name); err != nil {
			r.warn("removing staging tag %s, left by a crashed run: %v", t.Name, err)
			continue
		}
		r.Log.Infof("Removed staging tag %s, left by a run that did not finish (%s ago)", t.Name, r.Now().Sub(at).Round(time.Minute))
	}
}

// stagingTag is the tag an image is pushed under before its checks: the
// image id's start, then the time, so that a later run can tell a leftover
// from a concurrent run's.
func stagingTag(imageID string, at time.Time) string {
	return cache.StagingTagPrefix + strings.TrimPrefix(imageID, "sha256:")[:16] + "-" + strconv.FormatInt(at.Unix(), 10)
}

// stagedAt reads the time in a staging tag's name.
func stagedAt(tag string) (time.Time, bool) {
	rest := strings.TrimPrefix(tag, cache.StagingTagPrefix)
	_, sec, ok := strings.Cut(rest, "-")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// creds holds the registry login and logs in again before it runs out. It is
// shared by the run and its background work.
type creds struct {
	pub Publisher
	log Log
	now func() time.Time

	mu  sync.Mutex
	cur registry.Login
}

// tokenMargin is how long a registry password must still be valid for a push
// to start with it; a run that outlives its token logs in again.
const tokenMargin = 15 * time.Minute

func (c *creds) login(ctx context.Context) (registry.Login, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loginLocked(ctx)
}

// loginLocked gets a password and masks it before anything can print it.
func (c *creds) loginLocked(ctx context.Context) (registry.Login, error) {
	l, err := c.pub.Login(ctx)
	if err != nil {
		return registry.Login{}, err
	}
	if l.Password != "" {
		c.log.Mask(l.Password)
	}
	c.cur = l
	return l, nil
}

// fresh returns a login that stays valid for tokenMargin, logging in again
// when the current one does not.
func (c *creds) fresh(ctx context.Context) (build.Auth, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp := c.cur.ExpiresAt; !exp.IsZero() && c.now().Add(tokenMargin).After(exp) {
		c.log.Infof("Registry token expires at %s: logging in again", exp.Format(time.RFC3339))
		if _, err := c.loginLocked(ctx); err != nil {
			return build.Auth{}, err
		}
	}
	return c.cur.Auth, nil
}

// expire marks the current login as spent: the registry refused it.
func (c *creds) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur.ExpiresAt = c.now()
}

// registries answers the builder for each registry it pulls from: the run's
// own login for the registry it pushes to, the keychain for any other.
type registries struct {
	own   string // the host pushed to; "" when the run pushes nothing
	creds *creds
	other build.Credentials
}

func (r *run) registries() registries {
	own := ""
	if r.repo.ref != "" {
		own = hostOf(r.repo.ref)
	}
	return registries{own: own, creds: &r.creds, other: r.Keychain}
}

func (g registries) Credentials(ctx context.Context, host string) (build.Auth, error) {
	switch {
	case g.own != "" && host == g.own:
		return g.creds.fresh(ctx)
	case g.other != nil:
		return g.other.Credentials(ctx, host)
	}
	return build.Auth{}, nil
}

// push pushes a built image to the repository under tag, logging in again
// when the registry says the token expired, and trying again after a fault
// that may pass while budget lasts (the run's; the caches' own for a
// cache). The engine retries each layer itself, but not the manifest: a
// try after a fault runs under what is left of the budget, so that layers
// the engine already retried in vain are not retried again in full.
func (r *run) push(ctx context.Context, budget *retry.Budget, imageID, tag string) (build.Pushed, error) {
	if err := r.prepared(ctx); err != nil {
		return build.Pushed{}, err
	}
	ref := r.repo.ref + ":" + tag
	var err error
	for try := 1; ; try++ {
		began := r.Now()
		pctx, cancel := budget.Bound(ctx)
		var auth build.Auth
		if auth, err = r.creds.fresh(ctx); err != nil {
			cancel()
			return build.Pushed{}, err
		}
		var p build.Pushed
		p, err = r.Builder.Push(pctx, imageID, ref, auth)
		spent := context.Cause(pctx)
		cancel()
		if err == nil {
			return p, nil
		}
		if ctx.Err() != nil {
			return build.Pushed{}, err
		}
		if errors.Is(spent, retry.ErrSpent) {
			return build.Pushed{}, r.givenUp(spentIn(err), try, budget)
		}
		switch {
		case errors.Is(err, registry.ErrAuthExpired):
			r.creds.expire()
		case !errors.Is(err, registry.ErrUnavailable):
			return build.Pushed{}, err
		default:
			// The engine may have retried a layer for up to
			// retry.EngineRetries before it gave up: that counts.
			budget.Fault(latest(began, r.Now().Add(-retry.EngineRetries)))
		}
		if try == retry.Tries || !budget.Allows(retry.Pause(try)) {
			return build.Pushed{}, r.givenUp(err, try, budget)
		}
		r.Log.Infof("Push of %s failed (%v): trying again (%d of %d)", ref, err, try+1, retry.Tries)
		if err := r.pause(ctx, try); err != nil {
			return build.Pushed{}, err
		}
	}
}

// givenUp is the error of a push that failed for good: one line naming
// the registry and what to check.
func (r *run) givenUp(err error, tries int, budget *retry.Budget) error {
	return fmt.Errorf("%w: the registry %s keeps failing; check its status and the network, then run again (tried %s, within the %s a run may spend on remote faults)",
		err, hostOf(r.repo.ref), timesOf(tries), budget.Total())
}

func timesOf(n int) string {
	if n == 1 {
		return "once"
	}
	return strconv.Itoa(n) + " times"
}

// spentIn marks err, of a call the budget cut off, as retry.ErrSpent;
// the engine may have said so in its words already.
func spentIn(err error) error {
	if errors.Is(err, retry.ErrSpent) {
		return err
	}
	if strings.Contains(err.Error(), retry.ErrSpent.Error()) {
		return spent{err}
	}
	return fmt.Errorf("%w: %w", retry.ErrSpent, err)
}

// spent is an error that says retry.ErrSpent in its own words.
type spent struct{ error }

func (s spent) Unwrap() []error { return []error{s.error, retry.ErrSpent} }

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (r *run) pause(ctx context.Context, try int) error {
	if r.Pause != nil {
		return r.Pause(ctx, try)
	}
	select {
	case <-time.After(retry.Pause(try)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func hostOf(ref string) string {
	host, _, _ := strings.Cut(ref, "/")
	return host
}

// skipKey hashes everything that decides the image. An image the build
// reads that cannot be resolved, or an ADD of a URL without --checksum,
// turns the skip check off for this run (the build goes on): what they
// stand for could have moved.
func (r *run) skipKey(ctx context.Context) error {
	if !r.caching() {
		return nil
	}
	in, ok, err := r.skipInput(ctx)
	if !ok || err != nil {
		return err
	}
	return r.timed("skip key", func() error {
		s, err := cache.ComputeSkip(ctx, in)
		if err != nil {
			return err
		}
		r.skipK = s.Key
		r.noteGit(s.Git)
		return nil
	})
}

// resolveBase says what a base image stands for, as the build will use it:
// with pull, what its registry holds now (so a tag that moved moves the
// skip key, and the build pulls the new image); without, what the builder
// holds, else its registry. The builder gets the login for the base's own
// registry, and no other.
func (r *run) resolveBase(ctx context.Context, regs registries, ref string) (string, error) {
	id, err := r.resolveBaseWith(ctx, regs, ref)
	if err != nil && regs.own == "" && r.in.Push && ctx.Err() == nil {
		// The base may be in the registry pushed to, whose login the run
		// has not needed so far: log in, and ask again with it.
		if lerr := r.login(ctx); lerr == nil {
			return r.resolveBaseWith(ctx, r.registries(), ref)
		}
	}
	return id, err
}

func (r *run) resolveBaseWith(ctx context.Context, regs registries, ref string) (string, error) {
	var auth build.Auth
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		if auth, err = regs.Credentials(ctx, reference.Domain(named)); err != nil {
			return "", fmt.Errorf("getting credentials for base image %s: %w", ref, err)
		}
	}
	return r.Builder.ResolveBase(ctx, ref, auth, r.in.Pull)
}

// pushedImage is the runtime image as the registry has it.
type pushedImage struct {
	digest   string
	size     int64
	imageID  string // the config digest, when read from the manifest
	manifest registry.Manifest
}

// lookupTags are the tags the skip's one lookup asks for: the record, the
// requested tags and the branch's runtime cache; where the caches are, for
// the restore that follows a miss; and the default branch's current image,
// to compare sizes with.
func (r *run) lookupTags(recTag, runtimeTag string) []string {
	refs := append([]string{recTag}, r.in.Tags...)
	if runtimeTag != "" {
		refs = append(refs, runtimeTag)
	}
	if r.caching() && r.plan.buildStage != nil {
		refs = append(refs, r.cacheTags()...)
	}
	return unique(append(refs, r.baseTags()...))
}

// skip looks for the record of an image built from the same inputs. When
// there is one, it attaches the requested tags to that image: nothing is
// built or pushed. One request reads the record and where the requested
// tags and the branch's runtime cache point; then one PutImage per tag that
// must move. No login: the record carries the image's manifest and the
// registry's host.
func (r *run) skip(ctx context.Context) (bool, error) {
	if r.skipK == "" {
		return false, nil
	}
	recTag, runtimeTag := cache.SkipTag(r.skipK), r.runtimeCacheTag()
	found, err := r.Publisher.Lookup(ctx, r.lookupTags(recTag, runtimeTag))
	r.repo.missing = errors.Is(err, registry.ErrRepositoryMissing)
	if errors.Is(err, registry.ErrNotFound) {
		// No repository: no cache to restore, and no image to compare
		// sizes with either.
		r.found, r.base.looked = map[string]registry.Manifest{}, true
	}
	if err != nil {
		if !errors.Is(err, registry.ErrNotFound) && ctx.Err() == nil {
			r.warn("looking for an identical image: %v: building", err)
		}
		return false, ctx.Err()
	}
	r.found = found
	r.noteBase(found)
	rec, ok := found[recTag]
	if !ok {
		return false, nil
	}
	rd, err := cache.ReadRecorded(rec.Body)
	if err != nil || rd.SkipKey != r.skipK {
		return false, nil
	}
	r.builtFrom = rd.Revision
	img, err := r.recorded(ctx, rd)
	if err != nil {
		// The image the record marks is gone: build it again.
		return false, ctx.Err()
	}
	r.Log.Infof("Skipping the build: %s@%s was built from identical inputs (skip key %s)", r.repo.ref, rd.Digest, r.skipK[:16])
	r.skipped = true
	r.pushed = img
	if err := r.readPlatforms(ctx, img.manifest); err != nil {
		return true, err
	}
	if err := r.checkSize(); err != nil {
		return true, err
	}
	if err := r.compareSize(ctx); err != nil {
		return true, err
	}
	if err := r.attach(ctx, found); err != nil {
		return true, err
	}
	if tag := runtimeTag; tag != "" && found[tag].Digest() != rec.Digest() {
		if err := r.Publisher.Put(ctx, tag, rec); err != nil {
			r.warn("updating the branch's runtime cache %s: %v", tag, err)
		}
	}
	return true, nil
}

// recorded is the image a record marks. A record that carries the image's
// manifest and the registry's host is all it takes; one of an earlier
// format needs a login and the image's description.
func (r *run) recorded(ctx context.Context, rd cache.Recorded) (pushedImage, error) {
	if r.repo.ref == "" && rd.Registry != "" {
		r.repo.ref = rd.Registry + "/" + r.in.Repository
	}
	if len(rd.Manifest) > 0 && r.repo.ref != "" {
		p := pushedImage{digest: rd.Digest, size: rd.Size, manifest: registry.Manifest{Body: rd.Manifest, MediaType: rd.MediaType}}
		if id, err := cache.ConfigDigest(rd.Manifest); err == nil {
			p.imageID = id
		}
		return p, nil
	}
	if err := r.login(ctx); err != nil {
		return pushedImage{}, err
	}
	return r.lookup(ctx, rd.Digest)
}

// lookup reads what the registry has of an image: its size and manifest,
// both at once.
func (r *run) lookup(ctx context.Context, digest string) (pushedImage, error) {
	var (
		img  registry.Image
		derr error
		wg   sync.WaitGroup
	)
	wg.Go(func() { img, derr = r.Publisher.Describe(ctx, digest) })
	m, err := r.Publisher.Manifest(ctx, digest)
	wg.Wait()
	if derr != nil {
		return pushedImage{}, derr
	}
	if err != nil {
		return pushedImage{}, err
	}
	p := pushedImage{digest: img.Digest, size: img.SizeBytes, manifest: m}
	if id, err := cache.ConfigDigest(m.Body); err == nil {
		p.imageID = id
	}
	return p, nil
}

// publish pushes the runtime image once, under a staging tag, checks it,
// then attaches the requested tags, so that no requested tag ever points at
// an image that failed a check, and records it for later runs.
func (r *run) publish(ctx context.Context) error {
	// The one tag the image is pushed under; the requested tags are attached
	// only once the pushed image has been checked.
	t := r.Now()
	staging := stagingTag(r.image.ID, t)
	r.Log.Infof("Pushing %s:%s", r.repo.ref, staging)
	pushed, err := r.push(ctx, r.budget, r.image.ID, staging)
	if err != nil {
		return err
	}
	if pushed.ImageID != "" {
		r.image.ID = pushed.ImageID
	}
	// The staging tag only carries the push: once the requested tags are
	// attached, or a check failed, it goes (with the image, when no requested
	// tag holds it). No lifecycle rule may expire it: on a released image it
	// would expire the release tags too.
	var tagsFrom time.Time // and the staging tag's removal
	defer func() {
		if !tagsFrom.IsZero() {
			r.timings = append(r.timings, Timing{Name: "tags and records", Duration: r.Now().Sub(tagsFrom)})
		}
	}()
	defer func() {
		cctx, cancel := cleanup(ctx)
		defer cancel()
		if err := r.Publisher.Untag(cctx, staging); err != nil {
			r.warn("%v", err)
		}
	}()
	img, err := r.lookup(ctx, pushed.Digest)
	if err != nil {
		return fmt.Errorf("checking the pushed image: %w", err)
	}
	if img.digest != pushed.Digest {
		return fmt.Errorf("checking the pushed image: the builder pushed %s but the registry holds %s", pushed.Digest, img.digest)
	}
	img.imageID = ""
	if r.pushed, err = r.published(ctx, img); err != nil {
		return err
	}
	r.timings = append(r.timings, Timing{Name: "push", Duration: r.Now().Sub(t)})
	tagsFrom = r.Now()
	if err := r.checkSize(); err != nil {
		return err
	}
	if err := r.compareSize(ctx); err != nil {
		return err
	}
	if err := r.attach(ctx, nil); err != nil {
		return err
	}
	r.record(ctx)
	// Name the image locally as it is named in the registry, so it can be
	// run by the tags reported.
	for _, ref := range r.tags {
		_ = r.Builder.Name(ctx, r.image.ID, ref)
	}
	return nil
}

// published is the image the run publishes, from the one pushed: its
// platforms read when it is an index, annotated when asked.
func (r *run) published(ctx context.Context, img pushedImage) (pushedImage, error) {
	if err := r.readPlatforms(ctx, img.manifest); err != nil {
		return img, err
	}
	return r.annotate(img)
}

// readPlatforms reads the images of an index the builder pushed (several
// platforms): each one's digest, platform and size, for the outputs, the
// size limit and the skip record. An image pushed alone has none.
func (r *run) readPlatforms(ctx context.Context, m registry.Manifest) error {
	if !cache.IsIndex(m.MediaType) {
		return nil
	}
	// A skip has not logged in yet; a push has (this returns at once).
	if err := r.login(ctx); err != nil {
		return err
	}
	digests, err := cache.IndexImages(m.Body)
	if err != nil {
		return fmt.Errorf("checking the pushed image: %w", err)
	}
	r.platforms, r.platformManifests = nil, nil
	for _, d := range digests {
		img, cfg, err := r.platformImage(ctx, d)
		var ie *InputError
		if errors.As(err, &ie) {
			// The merge's words for its images input: here the builder
			// pushed the index, and no input is at fault.
			return fmt.Errorf("checking the pushed image: %s", ie.Msg)
		}
		if err != nil {
			return fmt.Errorf("checking the pushed image: %w", err)
		}
		r.platforms = append(r.platforms, PlatformImage{Platform: cfg.platform(), Digest: d, Size: img.size})
		r.platformManifests = append(r.platformManifests, img.manifest.Body)
	}
	return nil
}

// annotate makes the image that is published when the user gave
// annotations: the pushed manifest as an OCI image manifest that carries
// them, with the same config and layers. The engine pushes a Docker schema 2
// manifest, which has no annotations. Nothing is sent here: attach puts it
// under each requested tag (no blob moves) and record records it, so the
// digest reported, the tags and a later skip all name it; the manifest
// pushed goes with its staging tag. Without annotations the image is the
// one pushed.
func (r *run) annotate(img pushedImage) (pushedImage, error) {
	if len(r.in.Annotations) == 0 {
		return img, nil
	}
	body, err := cache.Annotate(img.manifest.Body, img.manifest.MediaType, r.in.Annotations)
	if err != nil {
		return img, fmt.Errorf("%w: no tag was attached", err)
	}
	img.manifest = registry.Manifest{Body: body, MediaType: cache.MediaTypeOCIManifest}
	img.digest = img.manifest.Digest()
	r.Log.Infof("Annotated the image: %s (an OCI manifest of the same config and layers)", img.digest)
	return img, nil
}

// checkSize fails the run when the image is over max-image-size, before any
// tag is attached.
func (r *run) checkSize() error {
	if len(r.platforms) > 0 {
		return r.checkPlatformSizes() // each platform's image
	}
	max, size := r.in.MaxImageSize, r.pushed.size
	if max <= 0 || size <= max {
		return nil
	}
	return &InputError{Input: "max-image-size", Msg: fmt.Sprintf("the image is %s compressed (%d bytes), over the limit of %s: no tag was attached; make the image smaller or raise max-image-size", units.HumanSize(float64(size)), size, units.HumanSize(float64(max)))}
}

// attach puts the requested tags on the image; a tag that have shows on the
// image already is left as it is. When one fails, the error says which were
// attached before it.
func (r *run) attach(ctx context.Context, have map[string]registry.Manifest) error {
	if have == nil {
		have = r.found // where the skip's lookup found the requested tags
	}
	want, err := r.attachOrder(r.requested(ctx), have)
	if err != nil {
		return err
	}
	var attached []string
	for _, tag := range want {
		if m, ok := have[tag]; ok && m.Digest() == r.pushed.digest {
			attached = append(attached, tag)
			r.tags = append(r.tags, r.repo.ref+":"+tag)
			r.Log.Infof("Tagged %s:%s (already)", r.repo.ref, tag)
			continue
		}
		if err := r.Publisher.Put(ctx, tag, r.pushed.manifest); err != nil {
			if len(attached) > 0 {
				return fmt.Errorf("attaching tag %s: %w (attached before it: %s)", tag, err, strings.Join(attached, ", "))
			}
			return fmt.Errorf("attaching tag %s: %w (no tag was attached)", tag, err)
		}
		attached = append(attached, tag)
		r.tags = append(r.tags, r.repo.ref+":"+tag)
		r.Log.Infof("Tagged %s:%s", r.repo.ref, tag)
	}
	return nil
}

// attachOrder orders the tags to attach so that a tag that must move from
// another image comes first: in a repository whose tags are immutable, that
// is where attaching fails, and it then fails before any new tag is
// attached. A move the repository is known to refuse fails the run before
// anything is attached.
func (r *run) attachOrder(want []string, have map[string]registry.Manifest) ([]string, error) {
	moves := func(tag string) bool {
		m, ok := have[tag]
		return ok && m.Digest() != r.pushed.digest
	}
	var refused []string
	for _, tag := range want {
		if moves(tag) && !r.repo.info.Mutable(tag) {
			refused = append(refused, tag)
		}
	}
	if len(refused) > 0 {
		return nil, &InputError{Input: "tags", Msg: fmt.Sprintf("%s already point at another image in %s, whose tags are immutable: no tag was attached; drop the tags (or rules) that move, or let them move (an exclusion filter on the repository's tag immutability, or mutable tags)",
			strings.Join(refused, ", "), r.in.Repository)}
	}
	out := slices.Clone(want)
	slices.SortStableFunc(out, func(a, b string) int {
		switch ma, mb := moves(a), moves(b); {
		case ma && !mb:
			return -1
		case mb && !ma:
			return 1
		}
		return 0
	})
	return out, nil
}

// requested is the tags to attach: those asked for, less latest when the
// run releases a version (Input.Release) and the repository holds a higher
// release, so that a backport of an older line does not take latest from
// the newest. The repository's tags are those prepare listed beside the
// build; a skip lists them here, once. When they cannot be listed, latest
// is not moved: a run again decides.
func (r *run) requested(ctx context.Context) []string {
	v, ok := tags.ParseVersion(r.in.Release)
	if !ok || !slices.Contains(r.in.Tags, "latest") {
		return r.in.Tags
	}
	without := slices.DeleteFunc(slices.Clone(r.in.Tags), func(t string) bool { return t == "latest" })
	listed := r.repo.tagged
	if !r.repo.listed {
		var err error
		if listed, err = r.Publisher.Tagged(ctx); err != nil {
			r.warn("tags: latest was not moved: listing the repository's releases to see whether %s is the highest: %v; run again to move it", v.Core(), err)
			return without
		}
	}
	names := make([]string, len(listed))
	for i, t := range listed {
		names[i] = t.Name
	}
	if higher := tags.Higher(v, r.in.Tags, names); higher != "" {
		r.Log.Note(Note{Level: Notice, Message: fmt.Sprintf("tags: latest was not moved: release %s is not the repository's highest (it holds %s), so latest stays on the newest release", v.Core(), higher)})
		return without
	}
	return r.in.Tags
}

// record marks the pushed image with its skip key, and makes it the branch's
// runtime cache, through a record manifest (never tags on the image itself).
// A run that may not write caches records nothing: a later trusted run would
// skip onto its image.
func (r *run) record(ctx context.Context) {
	if r.skipK == "" || !r.in.CacheWrite {
		return
	}
	body, err := cache.NewRecord(r.pushed.manifest.Body, r.pushed.manifest.MediaType, r.skipK, cache.RecordInfo{Registry: hostOf(r.repo.ref), Revision: r.in.Commit.SHA, Platforms: r.platformManifests})
	if err != nil {
		r.warn("%v", err)
		return
	}
	rec := registry.Manifest{Body: body, MediaType: cache.MediaTypeOCIManifest}
	tags := []string{cache.SkipTag(r.skipK)}
	if tag := r.runtimeCacheTag(); tag != "" {
		tags = append(tags, tag)
	}
	for _, tag := range tags {
		if err := r.Publisher.Put(ctx, tag, rec); err != nil {
			r.warn("recording the image for later runs (%s): %v", tag, err)
		}
	}
}

// runtimeCacheTag is the tag of the branch's runtime cache, "" when the
// build is for no branch (a tag, a detached head, a pull request), the run
// may not write caches, or the repository's tags cannot move.
func (r *run) runtimeCacheTag() string {
	if !r.in.CacheWrite || r.in.Commit.Branch == "" || r.repo.immutable {
		return ""
	}
	return cache.RuntimeCacheTag(r.in.Commit.Branch)
}

// unique drops repeated strings, keeping the first of each.
func unique(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
