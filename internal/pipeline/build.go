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
	// A builder that imports its caches from the registry as it builds
	// builds the stage first after a hit too: see CacheImporter.
	stageFirst := storeCache || (bs != nil && r.cacheHit && importsCaches(r.Builder))

	if stageFirst {
		err := r.timed("build stage "+r.plan.df.Title(bs), func() (err error) {
			r.Log.Infof("Building build stage %s", r.plan.df.Title(bs))
			r.buildImage, err = r.buildTried(ctx, stage, r.progress)
			return err
		})
		if err != nil {
			return r.buildFailed("stage "+r.plan.df.Title(bs), err)
		}
		if storeCache {
			id := r.buildImage.ID
			r.bg.start(ctx, func(ctx context.Context) { r.storeCache(ctx, id) })
		} else if r.in.Push {
			r.bg.start(ctx, r.pointBranchCacheWhenReady)
		}
	}

	// Without a cache to store, the build stage is built again only to be
	// sized. Its steps are all cached once the runtime build has run them,
	// so it starts then, beside the rest of the runtime build, rather than
	// after it. With no-cache too: every step just ran, in the runtime's
	// build, and building them all again only to size the stage would
	// double the build.
	var sizeStage func()
	if bs != nil && !stageFirst {
		var size sync.Once
		sizeStage = func() {
			size.Do(func() {
				s := stage
				s.NoCache = false
				r.bg.start(ctx, func(ctx context.Context) { r.sizeBuildStage(ctx, s) })
			})
		}
	}
	return r.buildRuntime(ctx, base, sizeStage)
}

// buildRuntime builds the runtime target, and calls sizeStage (when there
// is one) once the build stage's steps are done.
func (r *run) buildRuntime(ctx context.Context, base build.Spec, sizeStage func()) error {
	rt := base
	rt.Target = r.plan.target.Name // "" is the last stage, which may be unnamed
	rt.Labels = r.imageLabels(r.Now())
	rt.Tags = []string{localName(r.in.Repository, "latest")}
	rt.CacheFrom = append(append([]string(nil), r.buildCacheFrom...), r.runtimeFrom...)
	p := build.Progress(r.progress)
	if sizeStage != nil {
		p = stageDone{p, r.plan.df, r.plan.buildStage, sizeStage}
	}
	title := r.plan.df.Title(r.plan.target)
	err := r.timed("runtime stage "+title, func() (err error) {
		r.Log.Infof("Building runtime stage %s", title)
		r.image, err = r.buildTried(ctx, rt, p)
		return err
	})
	if err != nil {
		return r.buildFailed("target "+title, err)
	}
	r.Log.Infof("Built %s (%s uncompressed)", r.image.ID, units.HumanSize(float64(r.image.Size)))
	if sizeStage != nil {
		sizeStage() // when the runtime build named no step of the stage last
	}
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
			r.warn("sizing the build stage %s: %v", r.plan.df.Title(r.plan.buildStage), err)
		}
		return
	}
	r.bg.buildStageSize = img.Size
	r.bg.timed(Timing{Name: "build stage " + r.plan.df.Title(r.plan.buildStage) + " (sized beside the runtime build)", Duration: r.Now().Sub(t)})
	if r.cacheHit && r.in.Push {
		r.pointBranchCacheWhenReady(ctx)
	}
}

// pointBranchCacheWhenReady points the branch's cache at the key's after a
// hit, once the repository (prepared beside the build) is ready.
func (r *run) pointBranchCacheWhenReady(ctx context.Context) {
	if r.prepared(ctx) == nil {
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
	wg      sync.WaitGroup
	mu      sync.Mutex // for start, which any goroutine may call
	cancels []context.CancelFunc

	buildStageSize int64
	timings        []Timing
}

func (b *background) start(ctx context.Context, f func(ctx context.Context)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	b.cancels = append(b.cancels, cancel)
	b.wg.Go(func() { f(ctx) })
}

// timed records how long a piece of the work took.
func (b *background) timed(t Timing) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.timings = append(b.timings, t)
}

// stop waits for the work, cancelling it first when the run failed.
func (b *background) stop(failed bool) {
	b.mu.Lock()
	cancels := b.cancels
	b.mu.Unlock()
	if failed {
		for _, c := range cancels {
			c()
		}
	}
	b.wg.Wait()
	for _, c := range b.cancels {
		c()
	}
}

// progress shows the build's steps, each once, when it ends: a line, or a
// folded section with its output. On a terminal the step that runs is shown
// on a line the next replaces; in a log, a step that runs for longer than
// runningNotice is announced when that time is up, so that it shows what
// runs now. Not shown: a step an earlier build of the run showed (the build
// stage's, again in the runtime's build), and BuildKit's own bookkeeping
// (loading the context and the Dockerfile, exporting the image) when it was
// quick, unless it failed.
type progress struct {
	log   Log
	steps *steps
}

// runningNotice is how long a step runs before the log says it is running.
const runningNotice = 5 * time.Second

// steps is what a run's progress has shown and is waiting to show.
type steps struct {
	mu      sync.Mutex
	shown   map[string]bool
	running map[string]*time.Timer
}

func newProgress(log Log) progress {
	return progress{log, &steps{shown: map[string]bool{}, running: map[string]*time.Timer{}}}
}

// stop forgets the steps that never ended (a build that failed or was
// cancelled): none is announced after the builds.
func (p progress) stop() {
	p.steps.mu.Lock()
	defer p.steps.mu.Unlock()
	for name, t := range p.steps.running {
		t.Stop()
		delete(p.steps.running, name)
	}
}

func internal(s build.Step) bool {
	return strings.HasPrefix(s.Name, "[internal]") || s.Name == "copy /context /"
}

// bookkeeping is a step of BuildKit's own rather than the Dockerfile's.
func bookkeeping(s build.Step) bool {
	return internal(s) || !strings.HasPrefix(s.Name, "[")
}

func (p progress) StepStarted(s build.Step) {
	if bookkeeping(s) {
		return
	}
	p.steps.mu.Lock()
	defer p.steps.mu.Unlock()
	if _, ok := p.steps.running[s.Name]; ok || p.steps.shown[s.Name] {
		return
	}
	// On a terminal, the step is shown at once, until a line replaces it.
	if p.log.Status("Running " + s.Name) {
		return
	}
	p.steps.running[s.Name] = time.AfterFunc(runningNotice, func() { p.log.Infof("Running %s", s.Name) })
}

func (p progress) StepDone(s build.Step) {
	p.steps.mu.Lock()
	if t, ok := p.steps.running[s.Name]; ok {
		t.Stop()
		delete(p.steps.running, s.Name)
	}
	again := p.steps.shown[s.Name]
	p.steps.shown[s.Name] = true
	p.steps.mu.Unlock()
	switch {
	case s.Err != "":
		p.log.Section(fmt.Sprintf("FAILED %s", s.Name), s.Log) // its error is the run's, printed once
	case again, internal(s), bookkeeping(s) && s.Duration() < time.Second:
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
