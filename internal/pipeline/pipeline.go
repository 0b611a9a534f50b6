package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/org/ms-build-action/internal/action"
	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/docker"
	"github.com/org/ms-build-action/internal/buildcontext"
	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/dockerfile"
	"github.com/org/ms-build-action/internal/ecr"
)

// Pipeline is one run's parts, assembled by main.
type Pipeline struct {
	Engine *docker.Engine
	// Registry connects to the registry; called only when the run pushes.
	Registry func(ctx context.Context) (*ecr.Registry, error)
	Report   action.Reporter
	CI       action.CI
	Now      func() time.Time
}

// Run does the whole job: read the Dockerfile and key the build, log in to
// the registry, skip the build when an identical image is already there,
// restore the build stage's cache, build the build stage and the runtime
// stage with BuildKit, push the runtime image once, check it, attach the
// requested tags, store the caches and report what was made.
func (p *Pipeline) Run(ctx context.Context, in *action.Inputs) (out action.Outputs, err error) {
	start := p.Now()
	r := &run{Pipeline: p, in: in}
	defer func() { r.close(err != nil) }()

	if err = r.plan(); err != nil {
		return action.Outputs{}, err
	}
	if err = r.Engine.Check(ctx); err != nil {
		return action.Outputs{}, err
	}
	if err = r.keys(ctx); err != nil {
		return action.Outputs{}, err
	}
	if in.Push {
		if err = r.connect(ctx); err != nil {
			return action.Outputs{}, err
		}
		if in.Cache {
			if r.skipKey, err = r.computeSkipKey(ctx); err != nil {
				return action.Outputs{}, err
			}
		}
	}
	skipped, err := r.trySkip(ctx)
	if err != nil {
		return r.out, err
	}
	if !skipped {
		r.restoreCache(ctx)
		if err = r.build(ctx); err != nil {
			return action.Outputs{}, err
		}
		if in.Push {
			if err = r.publish(ctx); err != nil {
				if len(r.out.Tags) > 0 {
					// Some tags were attached: the outputs say exactly which.
					_ = p.Report.Outputs(r.out)
				}
				return r.out, err
			}
		}
	}
	if r.backgroundDone != nil {
		<-r.backgroundDone
		if r.buildStageSize > 0 {
			r.out.BuildStageSizeBytes = r.buildStageSize
			r.timings = append(r.timings, action.Timing{Name: "build stage " + r.buildStage.Ref() + " (beside the push)", Duration: r.buildStageTime})
		}
	}
	r.timings = append(r.timings, action.Timing{Name: "total", Duration: p.Now().Sub(start)})
	if err = p.Report.Outputs(r.out); err != nil {
		return r.out, err
	}
	err = p.Report.Summary(action.Summary{
		Outputs:    r.out,
		Repository: in.Repository,
		Target:     r.target.Ref(),
		BuildStage: r.buildStageName(),
		DryRun:     in.DryRun,
		Pushed:     in.Push,
		Timings:    r.timings,
	})
	return r.out, err
}

// run is the state of one run, filled in as it goes.
type run struct {
	*Pipeline
	in *action.Inputs

	bctx       *buildcontext.Context
	df         *dockerfile.Dockerfile
	target     *dockerfile.Stage
	buildStage *dockerfile.Stage // nil when the target copies from no named stage
	buildArgs  map[string]string

	platform string
	depKey   cache.Key
	skipKey  string // "" when the skip check is off for this run

	reg    *ecr.Registry
	repo   ecr.Repository
	authMu sync.Mutex // guards auth: the build cache's push may log in again too
	auth   ecr.Auth

	buildCacheFrom   []string // cache images pulled for the build stage
	runtimeCacheFrom []string // and for the runtime stage
	buildImage       build.Image
	image            build.Image
	backgroundDone   <-chan struct{}    // closed when the background work is done
	stopBackground   context.CancelFunc // cancels it
	buildStageSize   int64              // set in the background, read after it is done
	buildStageTime   time.Duration
	out              action.Outputs
	timings          []action.Timing
}

// close waits for the build cache to be stored (cancelling that when the
// run failed) and releases what the run holds.
func (r *run) close(failed bool) {
	if r.backgroundDone != nil {
		if failed {
			r.stopBackground()
		}
		<-r.backgroundDone
		r.stopBackground()
	}
	if r.bctx != nil {
		r.bctx.Close()
	}
}

// plan reads the context and the Dockerfile and settles the stages, before
// anything is built or pushed.
func (r *run) plan() error {
	if err := r.checkPaths(); err != nil {
		return err
	}
	bctx, err := buildcontext.Open(r.in.Context, r.in.File)
	if err != nil {
		return err
	}
	r.bctx = bctx
	r.buildArgs = make(map[string]string, len(r.in.BuildArgs))
	for _, a := range r.in.BuildArgs {
		r.buildArgs[a.Key] = a.Value
	}
	df, err := dockerfile.Parse(bytes.NewReader(bctx.Dockerfile()), dockerfile.WithBuildArgs(r.buildArgs))
	if err != nil {
		var de *dockerfile.Error
		if errors.As(err, &de) {
			r.Report.Annotate(action.Annotation{Level: action.Error, Title: "Dockerfile", File: r.dockerfilePath(), Line: de.Line, Message: de.Msg})
		}
		return fmt.Errorf("reading %s: %w", r.dockerfilePath(), err)
	}
	r.df = df
	for _, w := range df.Warnings {
		r.Report.Annotate(action.Annotation{Level: action.Warning, Title: "Dockerfile", File: r.dockerfilePath(), Line: w.Line, Message: w.Msg})
	}

	r.target = df.Last()
	if r.in.Target != "" {
		if r.target, err = df.Stage(r.in.Target); err != nil {
			return &action.InputError{Input: "target", Msg: err.Error()}
		}
	}
	if r.target.Name == "" && r.target != df.Last() {
		return &action.InputError{Input: "target", Msg: fmt.Sprintf("stage %s has no name and BuildKit builds a stage other than the last by name only: name it (FROM ... AS runtime) and set target to that name", r.target.Ref())}
	}
	if r.in.BuildStage != "" {
		if r.buildStage, err = df.Stage(r.in.BuildStage); err != nil {
			return &action.InputError{Input: "build-stage", Msg: err.Error()}
		}
		if r.buildStage.Name == "" {
			return &action.InputError{Input: "build-stage", Msg: fmt.Sprintf("stage %s has no name and BuildKit builds a stage on its own by name only: name it (FROM ... AS build) and set build-stage to that name", r.buildStage.Ref())}
		}
		if r.buildStage.Index == r.target.Index {
			return &action.InputError{Input: "build-stage", Msg: fmt.Sprintf("stage %s is the target itself: name the stage the target copies from", r.buildStage.Ref())}
		}
		return nil
	}
	if bs, ok := df.BuildStageFor(r.target); ok {
		if bs.Name == "" {
			r.Report.Annotate(action.Annotation{Level: action.Notice, Title: "build stage", File: r.dockerfilePath(), Line: bs.Line,
				Message: fmt.Sprintf("the build stage (stage %d) has no name, and BuildKit builds a stage on its own by name only: it is built with the target and not sized or cached apart. Name it (FROM ... AS build) to cache it.", bs.Index)})
			return nil
		}
		r.buildStage = bs
		if len(df.BuildStageCandidates(r.target)) > 1 {
			r.Report.Annotate(action.Annotation{Level: action.Notice, Title: "build-stage", File: r.dockerfilePath(), Line: bs.Line,
				Message: fmt.Sprintf("the target copies from several stages; caching stage %s, the last of them: set build-stage to choose another", bs.Ref())})
		}
		return nil
	}
	r.Report.Annotate(action.Annotation{Level: action.Notice, Title: "single stage", File: r.dockerfilePath(), Line: r.target.Line,
		Message: "the target copies from no build stage, so there is no build stage to cache or leave behind: building the target alone. A multi-stage Dockerfile (an SDK stage, then a small runtime stage that copies its output) makes smaller images."})
	return nil
}

// checkPaths makes sure the context and the Dockerfile exist and lie inside
// the CI workspace (the checkout): a build must not read the runner's other
// files.
func (r *run) checkPaths() error {
	paths := []struct{ input, path string }{{"context", r.in.Context}, {"file", r.in.File}}
	for _, p := range paths {
		if p.path == "" {
			continue
		}
		fi, err := os.Stat(p.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return &action.InputError{Input: p.input, Msg: fmt.Sprintf("%s does not exist: give a path relative to the workspace", p.path)}
		case err != nil:
			return &action.InputError{Input: p.input, Msg: fmt.Sprintf("%s cannot be read: %v", p.path, err)}
		case p.input == "context" && !fi.IsDir():
			return &action.InputError{Input: p.input, Msg: fmt.Sprintf("%s is not a directory: give the build context directory", p.path)}
		case p.input == "file" && fi.IsDir():
			return &action.InputError{Input: p.input, Msg: fmt.Sprintf("%s is a directory: give the Dockerfile's path", p.path)}
		}
		// A workspace that is not on this machine (gitlab-ci-local names the
		// docker executor's /builds/... for shell jobs too) bounds nothing.
		if ws := r.CI.Workspace; ws != "" && isDir(ws) && !within(ws, p.path) {
			return &action.InputError{Input: p.input, Msg: fmt.Sprintf("%s is outside the workspace %s: give a path inside the checkout", p.path, ws)}
		}
	}
	return nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// within reports whether path, links resolved, lies inside dir.
func within(dir, path string) bool {
	resolve := func(p string) string {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return p
	}
	rel, err := filepath.Rel(resolve(dir), resolve(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// dockerfilePath is the Dockerfile's path as annotations name it: relative
// to the workspace, slash-separated.
func (r *run) dockerfilePath() string {
	p := r.in.File
	if p == "" {
		p = filepath.Join(r.in.Context, "Dockerfile")
	}
	if ws := r.CI.Workspace; ws != "" && filepath.IsAbs(p) {
		if rel, err := filepath.Rel(ws, p); err == nil {
			p = rel
		}
	}
	return filepath.ToSlash(filepath.Clean(p))
}

func (r *run) buildStageName() string {
	if r.buildStage == nil {
		return ""
	}
	return r.buildStage.Ref()
}

// connect logs in to the registry and makes sure the repository exists,
// before the build, so that a run that cannot push fails before it builds.
func (r *run) connect(ctx context.Context) error {
	reg, err := r.Registry(ctx)
	if err != nil {
		return err
	}
	r.reg = reg
	if err := r.login(ctx); err != nil {
		return err
	}
	if r.repo, err = reg.EnsureRepository(ctx, r.in.Repository, r.in.CreateRepository); err != nil {
		return err
	}
	if r.repo.Created {
		r.Report.Infof("Created repository %s (scan on push)", r.in.Repository)
		policy := cache.LifecyclePolicy(r.in.CacheRetention)
		if err := reg.SetLifecyclePolicy(ctx, r.in.Repository, policy); err != nil {
			r.warn("the lifecycle policy that expires build caches was not set: %v", err)
		} else {
			r.Report.Infof("Set its lifecycle policy: build caches and skip records expire after %d days; release tags are never touched", r.in.CacheRetention)
		}
	}
	return nil
}

// login gets a registry password and masks it before anything can print it.
func (r *run) login(ctx context.Context) error {
	r.authMu.Lock()
	defer r.authMu.Unlock()
	return r.loginLocked(ctx)
}

func (r *run) loginLocked(ctx context.Context) error {
	auth, err := r.reg.Login(ctx)
	if err != nil {
		return err
	}
	r.Report.Mask(auth.Password)
	r.auth = auth
	return nil
}

// tokenMargin is how long a registry password must still be valid for a push
// to start with it; a run that outlives its token logs in again.
const tokenMargin = 15 * time.Minute

func (r *run) freshAuth(ctx context.Context) (build.Auth, error) {
	r.authMu.Lock()
	defer r.authMu.Unlock()
	if r.reg != nil && !r.auth.ExpiresAt.IsZero() && r.Now().Add(tokenMargin).After(r.auth.ExpiresAt) {
		r.Report.Infof("Registry token expires at %s: logging in again", r.auth.ExpiresAt.Format(time.RFC3339))
		if err := r.loginLocked(ctx); err != nil {
			return build.Auth{}, err
		}
	}
	return build.Auth{Host: r.auth.Host, Username: r.auth.Username, Password: r.auth.Password}, nil
}

// pushAttempts is how many times a push is tried when it fails on a fault
// that may pass: the engine retries each layer itself, but not the manifest.
const pushAttempts = 4

// push pushes ref, logging in again when the registry says the token
// expired and trying again after a transient fault (5xx, a reset
// connection), with a growing pause.
func (r *run) push(ctx context.Context, ref string) (build.Pushed, error) {
	var err error
	for attempt := 1; ; attempt++ {
		var auth build.Auth
		if auth, err = r.freshAuth(ctx); err != nil {
			return build.Pushed{}, err
		}
		var p build.Pushed
		if p, err = r.Engine.Push(ctx, ref, auth); err == nil {
			return p, nil
		}
		if ctx.Err() != nil || attempt == pushAttempts {
			break
		}
		switch msg := err.Error(); {
		case strings.Contains(msg, "token has expired"):
			r.authMu.Lock()
			r.auth.ExpiresAt = r.Now() // the next freshAuth logs in
			r.authMu.Unlock()
		case !transient(msg):
			return build.Pushed{}, err
		}
		r.Report.Infof("Push of %s failed (%v): trying again (%d of %d)", ref, err, attempt+1, pushAttempts)
		select {
		case <-time.After(time.Duration(1<<(attempt-1)) * time.Second):
		case <-ctx.Done():
			return build.Pushed{}, ctx.Err()
		}
	}
	if ctx.Err() != nil {
		return build.Pushed{}, err
	}
	return build.Pushed{}, fmt.Errorf("%w: the registry %s keeps failing; check its status and the network, then run again", err, r.auth.Host)
}

// transient tells an error worth another try: the registry or the network
// failing, not a refusal.
func transient(msg string) bool {
	for _, s := range []string{" 500 ", " 502 ", " 503 ", " 504 ", "Internal Server Error", "Service Unavailable", "Bad Gateway", "Gateway Timeout",
		"connection reset", "broken pipe", "EOF", "i/o timeout", "connection refused", "TLS handshake timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (r *run) engineAuth() build.Auth {
	r.authMu.Lock()
	defer r.authMu.Unlock()
	return build.Auth{Host: r.auth.Host, Username: r.auth.Username, Password: r.auth.Password}
}

// repoRef is the repository's reference in the registry.
func (r *run) repoRef() string {
	r.authMu.Lock()
	defer r.authMu.Unlock()
	return r.auth.Host + "/" + r.in.Repository
}

func (r *run) warn(format string, args ...any) {
	r.Report.Annotate(action.Annotation{Level: action.Warning, Message: fmt.Sprintf(format, args...)})
}

// build builds the runtime target and the build stage as its own target
// (kept locally and sized: this is where the cache attaches). After a cache
// miss the build stage goes first: its push, the long pole of the run, then
// starts at once. Otherwise the runtime target goes first, and the build
// stage (all cached by then: only its export is left) is built and sized
// beside the runtime image's publication.
func (r *run) build(ctx context.Context) error {
	opts := build.Spec{Context: r.bctx, BuildArgs: r.buildArgs, Network: r.in.Network, InlineCache: r.in.Cache}
	stage := opts
	if r.buildStage != nil {
		stage.Target = r.buildStage.Name
		stage.Tags = []string{localName(r.in.Repository, "build-stage")}
		stage.CacheFrom = r.buildCacheFrom
	}
	storeCache := r.buildStage != nil && r.in.Cache && r.reg != nil && !r.out.CacheHit

	if storeCache {
		img, err := r.timed("build stage "+r.buildStage.Ref(), func() (build.Image, error) {
			r.Report.Infof("Building build stage %s", r.buildStage.Ref())
			return r.Engine.Build(ctx, stage, progress{r.Report})
		})
		if err != nil {
			r.annotateStep(err)
			return fmt.Errorf("building stage %s: %w", r.buildStage.Ref(), err)
		}
		r.buildImage = img
		r.out.BuildStageSizeBytes = img.Size
		r.background(ctx, func(ctx context.Context) { r.storeCache(ctx) })
	}

	o := opts
	o.Target = r.target.Name // "" is the last stage, which may be unnamed
	o.Labels = r.labels()
	o.Tags = []string{localName(r.in.Repository, "latest")}
	o.CacheFrom = append(append([]string(nil), r.buildCacheFrom...), r.runtimeCacheFrom...)
	img, err := r.timed("runtime stage "+r.target.Ref(), func() (build.Image, error) {
		r.Report.Infof("Building runtime stage %s", r.target.Ref())
		return r.Engine.Build(ctx, o, progress{r.Report})
	})
	if err != nil {
		r.annotateStep(err)
		return fmt.Errorf("building target %s: %w", r.target.Ref(), err)
	}
	r.image = img
	r.out.ImageID = img.ID
	r.out.UncompressedSizeBytes = img.Size
	r.Report.Infof("Built %s (%s uncompressed)", img.ID, action.FormatSize(img.Size))
	if t := r.Engine.ContextTransfer(); strings.HasPrefix(t, "tar (") {
		r.Report.Annotate(action.Annotation{Level: action.Notice, Title: "build context",
			Message: "the engine did not take a BuildKit session, so the whole context was sent as a tar, as every build will be: " + strings.TrimPrefix(t, "tar ") + ". Set MSB_CONTEXT=tar to skip the attempt."})
	}

	if r.buildStage != nil && !storeCache {
		// Its steps are all cached now: only its export is left, which runs
		// beside the runtime image's push.
		r.background(ctx, func(ctx context.Context) {
			t := r.Now()
			img, err := r.Engine.Build(ctx, stage, quiet{nil})
			var se *build.StepError
			if err != nil {
				// A failing step fails the runtime stage's build too, which
				// reports it.
				if ctx.Err() == nil && !errors.As(err, &se) {
					r.warn("sizing the build stage %s: %v", r.buildStage.Ref(), err)
				}
				return
			}
			r.buildImage = img
			r.buildStageSize = img.Size
			r.buildStageTime = r.Now().Sub(t)
			if r.out.CacheHit {
				r.pointBranchCache(ctx)
			}
		})
	}
	return nil
}

// cleanupTimeout bounds what a run does after it failed or was cancelled,
// so that a cancelled run exits within seconds.
const cleanupTimeout = 3 * time.Second

// cleanup is the context for undoing what a run did: not cancelled with the
// run's, but bounded.
func cleanup(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// annotateStep points a failed step at its Dockerfile line.
func (r *run) annotateStep(err error) {
	var se *build.StepError
	if !errors.As(err, &se) {
		return
	}
	if line, ok := r.df.StepLine(se.Step); ok {
		r.Report.Annotate(action.Annotation{Level: action.Error, Title: "Dockerfile", File: r.dockerfilePath(), Line: line, Message: fmt.Sprintf("%s failed: %s", se.Step, se.Msg)})
	}
}

func (r *run) timed(name string, f func() (build.Image, error)) (build.Image, error) {
	t := r.Now()
	img, err := f()
	r.timings = append(r.timings, action.Timing{Name: name, Duration: r.Now().Sub(t)})
	return img, err
}

// localName is the name an image gets in the engine's store.
func localName(repo, tag string) string { return "ms-build/" + repo + ":" + tag }

// commitLabels are the OCI labels the commit decides.
func (r *run) commitLabels() map[string]string {
	l := map[string]string{}
	if r.CI.SourceURL != "" {
		l["org.opencontainers.image.source"] = r.CI.SourceURL
	}
	if r.CI.SHA != "" {
		l["org.opencontainers.image.revision"] = r.CI.SHA
	}
	return l
}

// labels are the OCI labels set on the runtime image.
func (r *run) labels() map[string]string {
	l := r.commitLabels()
	l["org.opencontainers.image.created"] = r.Now().UTC().Format(time.RFC3339)
	return l
}

// stagingTag is the one reference the runtime image is pushed under; the
// requested tags are attached only once the pushed image has been checked.
func stagingTag(imageID string) string {
	return "msb-staging-" + strings.TrimPrefix(imageID, "sha256:")[:16]
}

// publish pushes the runtime image once (and, beside it, the build stage's
// cache), checks it, then attaches the requested tags, so that no requested
// tag ever points at an image that failed a check.
func (r *run) publish(ctx context.Context) error {
	staging := stagingTag(r.image.ID)
	ref := r.repoRef() + ":" + staging

	t := r.Now()
	if err := r.Engine.Tag(ctx, r.image.ID, ref); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := cleanup(ctx)
		defer cancel()
		_ = r.Engine.Untag(cctx, ref)
	}()
	r.Report.Infof("Pushing %s", ref)
	pushed, err := r.push(ctx, ref)
	if err != nil {
		return err
	}
	// The staging tag only carries the push: once the requested tags are
	// attached, or a check failed, it goes (with the image, when no requested
	// tag holds it). No lifecycle rule may expire it: on a released image it
	// would expire the release tags too.
	defer func() {
		cctx, cancel := cleanup(ctx)
		defer cancel()
		if err := r.reg.Untag(cctx, r.in.Repository, staging); err != nil {
			r.warn("%v", err)
		}
	}()
	img, err := r.reg.Describe(ctx, r.in.Repository, pushed.Digest)
	if err != nil {
		return fmt.Errorf("checking the pushed image: %w", err)
	}
	if img.Digest != pushed.Digest {
		return fmt.Errorf("checking the pushed image: the engine pushed %s but the registry holds %s", pushed.Digest, img.Digest)
	}
	r.setImage(img)
	r.timings = append(r.timings, action.Timing{Name: "push", Duration: r.Now().Sub(t)})

	if max := r.in.MaxImageSize; max > 0 && img.SizeBytes > max {
		return &action.InputError{Input: "max-image-size", Msg: fmt.Sprintf("the image is %s compressed (%d bytes), over the limit of %s: no tag was attached; make the image smaller or raise max-image-size", action.FormatSize(img.SizeBytes), img.SizeBytes, action.FormatSize(max))}
	}

	m, err := r.reg.Manifest(ctx, r.in.Repository, img.Digest)
	if err != nil {
		return err
	}
	if err := r.attach(ctx, m); err != nil {
		return err
	}
	r.record(ctx, m)
	// Name the image locally as it is named in the registry, so it can be
	// run by the tags reported.
	for _, ref := range r.out.Tags {
		_ = r.Engine.Tag(ctx, r.image.ID, ref)
	}
	return nil
}

// setImage fills the outputs that describe the pushed image.
func (r *run) setImage(img ecr.Image) {
	r.out.Digest = img.Digest
	r.out.ImageURI = r.repoRef() + "@" + img.Digest
	r.out.ImageSizeBytes = img.SizeBytes
	r.out.ImageSize = action.FormatSize(img.SizeBytes)
}

// attach puts the requested tags on the image. When one fails, the error
// says which were attached before it.
func (r *run) attach(ctx context.Context, m ecr.Manifest) error {
	attached, err := r.reg.TagManifest(ctx, r.in.Repository, m, r.in.Tags)
	for _, tag := range attached {
		r.out.Tags = append(r.out.Tags, r.repoRef()+":"+tag)
		r.Report.Infof("Tagged %s:%s", r.repoRef(), tag)
	}
	if err != nil {
		if len(attached) > 0 {
			return fmt.Errorf("%w (attached before it: %s)", err, strings.Join(attached, ", "))
		}
		return fmt.Errorf("%w (no tag was attached)", err)
	}
	return nil
}

// progress shows the build's steps: a line when one starts, a folded section
// with its output when it ends. BuildKit's own bookkeeping (loading the
// context and the Dockerfile) is shown only when it fails.
type progress struct{ rep action.Reporter }

func internal(s build.Step) bool {
	return strings.HasPrefix(s.Name, "[internal]") || s.Name == "copy /context /"
}

func (p progress) StepStarted(s build.Step) {
	if !internal(s) {
		p.rep.Infof("Running %s", s.Name)
	}
}

// quiet shows nothing: for a build whose steps another build shows.
type quiet struct{ rep action.Reporter }

func (quiet) StepStarted(build.Step) {}
func (quiet) StepDone(build.Step)    {}

func (p progress) StepDone(s build.Step) {
	switch {
	case s.Err != "":
		p.rep.Section(fmt.Sprintf("FAILED %s", s.Name), append(s.Log, []byte("\n"+s.Err)...))
	case internal(s):
	case s.Cached:
		p.rep.Infof("CACHED %s", s.Name)
	case len(s.Log) == 0:
		p.rep.Infof("DONE %s (%.1fs)", s.Name, s.Duration().Seconds())
	default:
		p.rep.Section(fmt.Sprintf("DONE %s (%.1fs)", s.Name, s.Duration().Seconds()), s.Log)
	}
}
