package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/dockerfile"
	"github.com/org/ms-build-action/internal/registry"
	"github.com/org/ms-build-action/internal/retry"
)

// build builds the runtime target and the build stage as its own target
// (kept in the builder and sized: this is where the cache attaches). After a
// cache miss the build stage goes first: its push, the long pole of the run,
// then starts at once, beside the runtime build. Otherwise the runtime
// target goes first, and the build stage (all cached once the runtime build
// has run its steps: only its export is left) is built and sized beside the
// rest of the runtime build and its publication.
func (r *run) build(ctx context.Context) error {
	base := build.Spec{
		Context: r.plan.bctx, BuildArgs: r.in.BuildArgs, Network: r.in.Network, InlineCache: r.caching(),
		Pull: r.in.Pull, NoCache: r.in.NoCache, Secrets: r.in.Secrets, SSH: r.in.SSH, Registries: r.registries(),
	}
	bs := r.plan.buildStage
	stage := base
	if bs != nil {
		stage.Target = bs.Name
		stage.Tags = []string{localName(r.in.Repository, "build-stage")}
		stage.CacheFrom = r.buildCacheFrom
	}
	storeCache := bs != nil && r.caching() && r.in.Push && !r.cacheHit

	if storeCache {
		err := r.timed("build stage "+bs.Ref(), func() (err error) {
			r.Log.Infof("Building build stage %s", bs.Ref())
			r.buildImage, err = r.buildTried(ctx, stage, progress{r.Log})
			return err
		})
		if err != nil {
			return r.buildFailed("stage "+bs.Ref(), err)
		}
		id := r.buildImage.ID
		r.bg.start(ctx, func(ctx context.Context) { r.storeCache(ctx, id) })
	}

	rt := base
	rt.Target = r.plan.target.Name // "" is the last stage, which may be unnamed
	rt.Labels = r.commitLabels()
	rt.Labels["org.opencontainers.image.created"] = r.Now().UTC().Format(time.RFC3339)
	rt.Tags = []string{localName(r.in.Repository, "latest")}
	rt.CacheFrom = append(append([]string(nil), r.buildCacheFrom...), r.runtimeFrom...)
	// Without a cache to store, the build stage is built again only to be
	// sized. Its steps are all cached once the runtime build has run them,
	// so it starts then, beside the rest of the runtime build, rather than
	// after it. With no-cache too: every step just ran, in the runtime's
	// build, and building them all again only to size the stage would
	// double the build.
	var size sync.Once
	sizeStage := func() {
		if bs != nil && !storeCache {
			size.Do(func() {
				s := stage
				s.NoCache = false
				r.bg.start(ctx, func(ctx context.Context) { r.sizeBuildStage(ctx, s) })
			})
		}
	}
	p := build.Progress(progress{r.Log})
	if bs != nil && !storeCache {
		p = stageDone{p, r.plan.df, bs, sizeStage}
	}
	err := r.timed("runtime stage "+r.plan.target.Ref(), func() (err error) {
		r.Log.Infof("Building runtime stage %s", r.plan.target.Ref())
		r.image, err = r.buildTried(ctx, rt, p)
		return err
	})
	if err != nil {
		return r.buildFailed("target "+r.plan.target.Ref(), err)
	}
	r.Log.Infof("Built %s (%s uncompressed)", r.image.ID, units.HumanSize(float64(r.image.Size)))

	sizeStage() // when the runtime build named no step of the stage last
	return nil
}

// stageDone passes a build's steps on, and calls done once a stage's last
// step is done.
type stageDone struct {
	build.Progress
	df    *dockerfile.Dockerfile
	stage *dockerfile.Stage
	done  func()
}

func (p stageDone) StepDone(s build.Step) {
	p.Progress.StepDone(s)
	if st, last := p.df.StepStage(s.Name); last && st == p.stage && s.Err == "" {
		p.done()
	}
}

// sizeBuildStage builds the (cached) build stage to learn its size, and
// after a cache hit points the branch's cache at the key's.
func (r *run) sizeBuildStage(ctx context.Context, stage build.Spec) {
	t := r.Now()
	img, err := r.Builder.Build(ctx, stage, quiet{})
	if err != nil {
		// A failing step fails the runtime stage's build too, which reports it.
		var se *build.StepError
		if ctx.Err() == nil && !errors.As(err, &se) {
			r.warn("sizing the build stage %s: %v", r.plan.buildStage.Ref(), err)
		}
		return
	}
	r.bg.buildStageSize = img.Size
	r.bg.timings = append(r.bg.timings, Timing{Name: "build stage " + r.plan.buildStage.Ref() + " (sized beside the runtime build)", Duration: r.Now().Sub(t)})
	// The repository is prepared beside the build: point the cache once it
	// is ready.
	if r.cacheHit && r.in.Push && r.prepared(ctx) == nil {
		r.pointBranchCache(ctx)
	}
}

// localName is the name an image gets in the builder's store.
// buildTried runs one build, and runs it again when BuildKit failed to
// resolve a base image on a registry fault before any step ran: it asks the
// registry once, and the engine does not retry. Tries and pauses are a
// push's, within the run's budget for faults.
func (r *run) buildTried(ctx context.Context, s build.Spec, p build.Progress) (build.Image, error) {
	for try := 1; ; try++ {
		began := r.Now()
		img, err := r.Builder.Build(ctx, s, p)
		ref, fault := baseFault(err)
		if !fault || ctx.Err() != nil {
			return img, err
		}
		r.budget.Fault(began)
		if try == retry.Tries || !r.budget.Allows(retry.Pause(try)) {
			return img, fmt.Errorf("%w: the registry of base image %s keeps failing; check its status and the network, then run again (tried %s)", err, ref, timesOf(try))
		}
		r.Log.Infof("Resolving base image %s failed (%v): building again (%d of %d)", ref, err, try+1, retry.Tries)
		if err := r.pause(ctx, try); err != nil {
			return img, err
		}
	}
}

// baseFault reads a build's error: the image BuildKit failed to resolve on
// a fault that may pass (a 5xx, a dropped connection), not a refusal, as
// the builder classified it.
func baseFault(err error) (string, bool) {
	var re *build.ResolveError
	if !errors.As(err, &re) || !errors.Is(err, registry.ErrUnavailable) {
		return "", false
	}
	return re.Ref, true
}

func localName(repo, tag string) string { return "ms-build/" + repo + ":" + tag }

// background runs work beside the rest of the run. Run waits for it before
// it reports, and cancels it when the run failed. Its fields are written by
// the work and read only after stop.
type background struct {
	wg     sync.WaitGroup
	cancel context.CancelFunc

	buildStageSize int64
	timings        []Timing
}

func (b *background) start(ctx context.Context, f func(ctx context.Context)) {
	if b.cancel == nil {
		ctx, b.cancel = context.WithCancel(ctx)
	}
	b.wg.Go(func() { f(ctx) })
}

// stop waits for the work, cancelling it first when the run failed.
func (b *background) stop(failed bool) {
	if b.cancel == nil {
		return
	}
	if failed {
		b.cancel()
	}
	b.wg.Wait()
	b.cancel()
}

// progress shows the build's steps: a line when one starts, a folded section
// with its output when it ends. BuildKit's own bookkeeping (loading the
// context and the Dockerfile) is shown only when it fails.
type progress struct{ log Log }

func internal(s build.Step) bool {
	return strings.HasPrefix(s.Name, "[internal]") || s.Name == "copy /context /"
}

func (p progress) StepStarted(s build.Step) {
	if !internal(s) {
		p.log.Infof("Running %s", s.Name)
	}
}

func (p progress) StepDone(s build.Step) {
	switch {
	case s.Err != "":
		p.log.Section(fmt.Sprintf("FAILED %s", s.Name), append(s.Log, []byte("\n"+s.Err)...))
	case internal(s):
	case s.Cached:
		p.log.Infof("CACHED %s", s.Name)
	case len(s.Log) == 0:
		p.log.Infof("DONE %s (%.1fs)", s.Name, s.Duration().Seconds())
	default:
		p.log.Section(fmt.Sprintf("DONE %s (%.1fs)", s.Name, s.Duration().Seconds()), s.Log)
	}
}

// quiet shows nothing: for a build whose steps another build shows.
type quiet struct{}

func (quiet) StepStarted(build.Step) {}
func (quiet) StepDone(build.Step)    {}
