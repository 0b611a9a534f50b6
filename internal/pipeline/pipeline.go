package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/registry"
	"github.com/org/ms-build-action/internal/retry"
)

// Pipeline is one run's parts, assembled by main.
type Pipeline struct {
	Builder Builder
	// Publisher is the repository pushed to; nil when the run pushes nothing.
	Publisher Publisher
	Log       Log
	Now       func() time.Time
	// Pause waits between tries of a push; nil waits 1 s, 2 s, 4 s.
	Pause func(ctx context.Context, try int) error
	// Faults is how long the run may spend on remote faults in all, from
	// the first; 0 is retry.Faults.
	Faults time.Duration
	// Keychain answers for the registries the build pulls from other than
	// the one pushed to (its login is the run's own); nil: anonymous.
	Keychain build.Credentials
}

// Input is what one run builds and where it goes, validated by the front end.
type Input struct {
	Context    string // the build context directory
	File       string // the Dockerfile; "" is <Context>/Dockerfile
	Workspace  string // context and file must lie inside it; "" bounds nothing
	Target     string // the runtime stage; "" is the last
	BuildStage string // the stage to cache; "" is the one the target copies from
	BuildArgs  map[string]string
	Network    string
	Secrets    []build.Secret
	SSH        []build.SSH
	Pull       bool // resolve base images against their registry
	NoCache    bool // build every step; read and write no cache and no skip record
	// Labels are the user's labels for the runtime image's config: they
	// override the repository's OCI labels, and are in the skip key.
	Labels map[string]string
	// Annotations are the user's annotations for the runtime image's
	// manifest: when there are any, the image is published as an OCI
	// manifest that carries them. They are in the skip key.
	Annotations map[string]string

	Repository       string
	Tags             []string
	Push             bool
	CreateRepository bool
	MaxImageSize     int64 // bytes; 0 is no limit
	// MaxImageGrowth is how much the image may grow against the default
	// branch's current image; zero is no limit.
	MaxImageGrowth Growth

	Cache          bool
	CacheKeyFiles  []string
	CacheSalt      string
	CacheRetention int // days
	// CacheWrite lets the run write what later runs read: the build caches
	// (buildcache-<key>), the branch pointers, the skip records and the
	// runtime cache records. Without it the run still reads them all, and
	// pushes only its image and its requested tags: an untrusted run (a pull
	// request) can start from the trusted caches but put nothing in them.
	CacheWrite bool

	Commit Commit

	// Release is the semantic version (1.4.2) the run releases, when latest
	// is among Tags because of it: latest is attached only when no higher
	// release is in the repository (a backport of an older line leaves it
	// where it is). "" attaches latest, when asked, as any other tag.
	Release string

	// Notices are the front end's, said as the run starts.
	Notices []string
}

// Commit is what is known of the commit built.
type Commit struct {
	SHA           string // "" when unknown
	Branch        string // "" when not a branch (a tag, a detached head)
	DefaultBranch string
	// BaseBranch is the branch a pull request merges into: its caches are
	// read after the branch's own, before the default branch's.
	BaseBranch string
	SourceURL  string // the repository's web address
	// Repository describes the repository, for the OCI labels; Version is
	// the ref built as a version (a tag, else the branch). Neither is in the
	// skip key.
	Repository Repository
	Version    string
}

// Repository is what the front end knows of the repository; "" is unknown.
type Repository struct {
	Title, Description, URL, Licenses string
}

// Result is what a run made. A failed run's Result still lists the tags it
// attached before it failed.
type Result struct {
	ImageURI              string
	Digest                string
	ImageID               string
	Tags                  []string // full references
	ImageSizeBytes        int64    // compressed, as the registry counts it
	UncompressedSizeBytes int64
	BuildStageSizeBytes   int64
	CacheKey              string
	CacheHit              bool
	Skipped               bool
	Registry              string // the registry's host; "" when nothing was pushed
	BuiltFrom             string // on a skip, the commit that built the image tagged; "" when unknown
	Target                string // the target stage, as named in messages
	BuildStage            string // "" when there is none
	Timings               []Timing
	// SizeChange compares the image with the default branch's current
	// image; nil when there is none (or nothing was pushed).
	SizeChange *SizeChange
	// Platforms are the images of each platform of an index: those a
	// merge joined. nil for a single-platform image.
	Platforms []PlatformImage
}

// Timing is how long one part of the run took.
type Timing struct {
	Name     string // "(beside ...)" for work beside the run's steps: not in the total's sum, but the run's wait for it is
	Duration time.Duration
}

// Log is where the run says what it does. Implementations redact masked
// secrets from everything they write.
type Log interface {
	Mask(secret string)
	Infof(format string, args ...any)
	Note(n Note)
	Section(title string, body []byte)
	// Status shows a line that the next line replaces, on a terminal, and
	// says whether it did; elsewhere it shows nothing.
	Status(line string) bool
}

// Level is how much a Note matters.
type Level int

const (
	Notice Level = iota
	Warning
	Error
)

// Note is a notice, warning or error that may point at a file and line.
type Note struct {
	Level   Level
	Title   string
	File    string
	Line    int
	Message string
}

// InputError is an input that cannot be used; the message names it and says
// what to do.
type InputError struct {
	Input string
	Msg   string
}

func (e *InputError) Error() string { return "input " + e.Input + ": " + e.Msg }

// Run does the whole job: plan the build, look for an identical image, restore
// the build stage's cache, build both stages, push the runtime image once
// under a staging tag, check it, attach the requested tags, record it for
// later runs, and report what was made.
func (p *Pipeline) Run(ctx context.Context, in Input) (Result, error) {
	r := &run{Pipeline: p, in: in, start: p.Now(), budget: retry.NewBudget(p.Faults, p.Now), cacheBudget: retry.NewBudget(p.Faults, p.Now), progress: newProgress(p.Log)}
	for _, n := range in.Notices {
		p.Log.Note(Note{Level: Notice, Message: n})
	}
	err := r.run(ctx)
	r.progress.stop()
	// Waits for the background work, cancelled when the run failed.
	_ = r.timed("waiting for the work beside", func() error { r.bg.stop(err != nil); return nil })
	if r.cancelBuild != nil {
		r.cancelBuild(nil)
	}
	if r.plan.bctx != nil {
		r.plan.bctx.Close()
	}
	return r.result(), err
}

func (r *run) run(ctx context.Context) error {
	err := r.timed("context, Dockerfile and engine", func() (err error) {
		if r.plan, err = r.makePlan(); err != nil {
			return err
		}
		if err := r.Builder.Check(ctx); err != nil {
			return err
		}
		return r.key(ctx)
	})
	if err != nil {
		return err
	}
	// A skip needs no login and no repository check: its one lookup finds
	// whether there is anything to skip to. Only a build connects, and the
	// repository is prepared beside the build.
	bctx := ctx
	if r.in.Push {
		if err := r.skipKey(ctx); err != nil {
			return err
		}
		var skipped bool
		err := r.timed("looking for an identical image", func() (err error) {
			skipped, err = r.skip(ctx)
			return err
		})
		if skipped || err != nil {
			return err
		}
		err = r.timed("login", func() (err error) {
			bctx, err = r.connect(ctx)
			return err
		})
		if err != nil {
			return err
		}
		r.restore(bctx)
	}
	err = r.build(bctx)
	if r.in.Push {
		// The repository's error, when it has one, is why the build was
		// cancelled.
		if perr := r.prepared(ctx); perr != nil {
			return perr
		}
	}
	if err != nil {
		return err
	}
	if r.in.Push {
		return r.publish(ctx)
	}
	return nil
}

// run is one run's state: the plan, then what each step found.
type run struct {
	*Pipeline
	in    Input
	start time.Time
	plan  plan

	repo        repo                    // the repository, once connected
	cancelBuild context.CancelCauseFunc // cancels the build when the repository cannot be used
	creds       creds                   // the registry login, kept fresh
	skipK       string                  // the skip key; "" when skipping is off
	budget      *retry.Budget           // the run's time for remote faults, shared with its background work
	// cacheBudget is the caches' own (pulls and the cache's push): a cache
	// is never needed, and the faults it meets must not spend the time of
	// the pushes that are.
	cacheBudget *retry.Budget
	cacheFault  atomic.Bool // a cache's pull gave up on a registry fault

	// found is where the skip's lookup found the tags it asked for: the
	// caches' among them. nil when there was no lookup or it failed.
	found          map[string]registry.Manifest
	cacheHit       bool
	buildCacheFrom []string // cache images pulled for the build stage
	runtimeFrom    []string // and for the runtime stage
	buildImage     build.Image
	image          build.Image
	pushed         pushedImage
	tags           []string // references attached
	skipped        bool
	builtFrom      string      // the revision that built a skipped image
	base           baseImage   // the default branch's current image, once looked up
	sizeChange     *SizeChange // against base

	bg       background
	timings  []Timing
	progress progress // the steps of the run's builds

	platforms []PlatformImage // an index's images, one a platform: a merge's, or a build's of several
	// platformManifests are the manifests of platforms' images, in order.
	platformManifests [][]byte
}

// result assembles the outputs from what the steps found: the one place they
// are set.
func (r *run) result() Result {
	res := Result{
		ImageID:               r.image.ID,
		Tags:                  r.tags,
		UncompressedSizeBytes: r.image.Size,
		BuildStageSizeBytes:   r.buildImage.Size,
		CacheKey:              r.plan.depKey.Hex,
		CacheHit:              r.cacheHit,
		Skipped:               r.skipped,
		Timings:               append(r.timings, r.bg.timings...),
	}
	if r.skipped {
		res.BuiltFrom = r.builtFrom
	}
	if r.plan.target != nil {
		res.Target = r.plan.df.Title(r.plan.target)
	}
	if r.plan.buildStage != nil {
		res.BuildStage = r.plan.df.Title(r.plan.buildStage)
	}
	if r.pushed.digest != "" {
		res.Registry = hostOf(r.repo.ref)
		res.Digest = r.pushed.digest
		res.ImageURI = r.repo.ref + "@" + r.pushed.digest
		res.ImageSizeBytes = r.pushed.size
		if r.pushed.imageID != "" {
			res.ImageID = r.pushed.imageID
		}
	}
	res.SizeChange = r.sizeChange
	res.Platforms = r.platforms
	if r.repo.took > 0 {
		res.Timings = append(res.Timings, Timing{Name: "repository (beside the build)", Duration: r.repo.took})
	}
	if bs := r.bg.buildStageSize; bs > 0 {
		res.BuildStageSizeBytes = bs
	}
	res.Timings = append(res.Timings, Timing{Name: "total", Duration: r.Now().Sub(r.start)})
	return res
}

// timed records how long f took under name.
func (r *run) timed(name string, f func() error) error {
	t := r.Now()
	err := f()
	r.timings = append(r.timings, Timing{Name: name, Duration: r.Now().Sub(t)})
	return err
}

func (r *run) warn(format string, args ...any) {
	r.Log.Note(Note{Level: Warning, Message: fmt.Sprintf(format, args...)})
}

// cleanupTimeout bounds what a run does after it failed or was cancelled,
// so that a cancelled run exits within seconds.
const cleanupTimeout = 3 * time.Second

// cleanup is the context for undoing what a run did: not cancelled with the
// run's, but bounded.
func cleanup(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// DockerfileError is a failure at a line of the Dockerfile: a syntax error,
// or a step that failed. The front end reports it once, pointing at the line.
type DockerfileError struct {
	File string // as annotations name it: relative to the workspace
	Line int
	Msg  string // what is wrong there; "" for Err's message
	Err  error
}

func (e *DockerfileError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return e.Err.Error()
}

func (e *DockerfileError) Unwrap() error { return e.Err }

// buildFailed is the error of a failed build of what: a failed step points
// at its Dockerfile line; an engine with no bridge network is no line's
// fault, and says which input avoids it.
func (r *run) buildFailed(what string, err error) error {
	if errors.Is(err, build.ErrNoBridge) {
		return fmt.Errorf("building %s: %w: set network: none (or host)", what, err)
	}
	err = fmt.Errorf("building %s: %w", what, err)
	var se *build.StepError
	if !errors.As(err, &se) {
		return err
	}
	if line, ok := r.plan.df.StepLine(se.Step); ok {
		return &DockerfileError{File: r.plan.dockerfilePath, Line: line, Err: err}
	}
	return err
}
