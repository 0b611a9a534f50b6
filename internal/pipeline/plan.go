package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/docker/go-units"

	"github.com/org/ms-build-action/internal/buildcontext"
	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/dockerfile"
)

// plan is what the run builds, settled before anything is built or pushed.
type plan struct {
	bctx           *buildcontext.Context
	df             *dockerfile.Dockerfile
	dockerfilePath string // as annotations name it: relative to the workspace
	target         *dockerfile.Stage
	buildStage     *dockerfile.Stage // nil when the target copies from no named stage
	platform       string
	depKey         cache.Key
	// platformKeys are each platform's own dependency key, when the run
	// builds several: each platform's build stage is cached under its own.
	platformKeys []platformKey
}

// platformKey is one platform's dependency key.
type platformKey struct {
	platform string
	key      cache.Key
}

// makePlan reads the context and the Dockerfile and settles the stages.
func (r *run) makePlan() (plan, error) {
	if err := checkPaths(r.in); err != nil {
		return plan{}, err
	}
	bctx, err := buildcontext.Open(r.in.Context, r.in.File)
	if err != nil {
		return plan{}, err
	}
	p := plan{bctx: bctx, dockerfilePath: dockerfilePath(r.in)}
	p.df, err = dockerfile.Parse(bytes.NewReader(bctx.Dockerfile()), dockerfile.WithBuildArgs(r.in.BuildArgs))
	if err != nil {
		var de *dockerfile.Error
		if errors.As(err, &de) {
			return p, &DockerfileError{File: p.dockerfilePath, Line: de.Line, Msg: de.Msg, Err: err}
		}
		return p, fmt.Errorf("reading %s: %w", p.dockerfilePath, err)
	}
	for _, w := range p.df.Warnings {
		r.Log.Note(Note{Level: Warning, Title: "Dockerfile", File: p.dockerfilePath, Line: w.Line, Message: w.Msg})
	}
	if p.target, err = target(p.df, r.in.Target); err != nil {
		return p, err
	}
	p.buildStage, err = r.chooseBuildStage(p)
	return p, err
}

func target(df *dockerfile.Dockerfile, name string) (*dockerfile.Stage, error) {
	if name == "" {
		return df.Last(), nil
	}
	t, err := df.Stage(name)
	if err != nil {
		return nil, &InputError{Input: "target", Msg: err.Error()}
	}
	if t.Name == "" && t != df.Last() {
		return nil, &InputError{Input: "target", Msg: fmt.Sprintf("stage %s has no name and BuildKit builds a stage other than the last by name only: name it (FROM ... AS runtime) and set target to that name", t.Ref())}
	}
	return t, nil
}

// chooseBuildStage is the stage cached apart: the build-stage input, else the
// stage the target copies from. A stage without a name cannot be built on its
// own by BuildKit, so it is not cached apart.
func (r *run) chooseBuildStage(p plan) (*dockerfile.Stage, error) {
	if r.in.BuildStage != "" {
		bs, err := p.df.Stage(r.in.BuildStage)
		switch {
		case err != nil:
			return nil, &InputError{Input: "build-stage", Msg: err.Error()}
		case bs.Name == "":
			return nil, &InputError{Input: "build-stage", Msg: fmt.Sprintf("stage %s has no name and BuildKit builds a stage on its own by name only: name it (FROM ... AS build) and set build-stage to that name", bs.Ref())}
		case bs.Index == p.target.Index:
			return nil, &InputError{Input: "build-stage", Msg: fmt.Sprintf("stage %s is the target itself: name the stage the target copies from", bs.Ref())}
		}
		return bs, nil
	}
	bs, ok := p.df.BuildStageFor(p.target)
	switch {
	case !ok:
		r.Log.Note(Note{Level: Notice, Title: "single stage", File: p.dockerfilePath, Line: p.target.Line,
			Message: "the target copies from no build stage, so there is no build stage to cache or leave behind: building the target alone. A multi-stage Dockerfile (an SDK stage, then a small runtime stage that copies its output) makes smaller images."})
		return nil, nil
	case bs.Name == "":
		r.Log.Note(Note{Level: Notice, Title: "build stage", File: p.dockerfilePath, Line: bs.Line,
			Message: fmt.Sprintf("the build stage (stage %d) has no name, and BuildKit builds a stage on its own by name only: it is built with the target and not sized or cached apart. Name it (FROM ... AS build) to cache it.", bs.Index)})
		return nil, nil
	case len(p.df.BuildStageCandidates(p.target)) > 1:
		r.Log.Note(Note{Level: Notice, Title: "build-stage", File: p.dockerfilePath, Line: bs.Line,
			Message: fmt.Sprintf("the target copies from several stages; caching stage %s, the last of them: set build-stage to choose another", bs.Ref())})
	}
	return bs, nil
}

// checkPaths makes sure the context and the Dockerfile exist and lie inside
// the workspace (the checkout): a build must not read the runner's other
// files.
func checkPaths(in Input) error {
	paths := []struct{ input, path string }{{"context", in.Context}}
	if in.File != "" {
		paths = append(paths, struct{ input, path string }{"file", in.File})
	}
	for _, p := range paths {
		fi, err := os.Stat(p.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return &InputError{Input: p.input, Msg: fmt.Sprintf("%s does not exist: give a path relative to the workspace", p.path)}
		case err != nil:
			return &InputError{Input: p.input, Msg: fmt.Sprintf("%s cannot be read: %v", p.path, err)}
		case p.input == "context" && !fi.IsDir():
			return &InputError{Input: p.input, Msg: fmt.Sprintf("%s is not a directory: give the build context directory", p.path)}
		case p.input == "file" && fi.IsDir():
			return &InputError{Input: p.input, Msg: fmt.Sprintf("%s is a directory: give the Dockerfile's path", p.path)}
		}
		// A workspace that is not on this machine (gitlab-ci-local names the
		// docker executor's /builds/... for shell jobs too) bounds nothing.
		if ws := in.Workspace; ws != "" && isDir(ws) && !within(ws, p.path) {
			return &InputError{Input: p.input, Msg: fmt.Sprintf("%s is outside the workspace %s: give a path inside the checkout", p.path, ws)}
		}
	}
	if in.File == "" {
		if _, err := os.Lstat(filepath.Join(in.Context, "Dockerfile")); errors.Is(err, fs.ErrNotExist) {
			return &InputError{Input: "file", Msg: fmt.Sprintf("%s does not exist (the default is the context's Dockerfile): set file to the Dockerfile's path", dockerfilePath(in))}
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
func dockerfilePath(in Input) string {
	p := in.File
	if p == "" {
		p = filepath.Join(in.Context, "Dockerfile")
	}
	if ws := in.Workspace; ws != "" && filepath.IsAbs(p) {
		if rel, err := filepath.Rel(ws, p); err == nil {
			p = rel
		}
	}
	return filepath.ToSlash(filepath.Clean(p))
}

// dependencyKey is the build stage's dependency key on platform.
func (r *run) dependencyKey(platform string) (cache.Key, error) {
	bs := r.plan.buildStage
	// What the restore sees; nothing when that is the whole context or
	// cannot be told, and the whole context's dependency files count.
	sources, _ := r.plan.df.RestoreSources(bs)
	k, err := cache.DependencyKey(cache.DependencyInput{
		FS:          r.plan.bctx.FS(),
		Files:       r.in.CacheKeyFiles,
		Sources:     sources,
		StageSource: r.plan.df.Source(bs),
		BuildArgs:   r.visibleArgs(bs),
		Platform:    platform,
		Salt:        r.in.CacheSalt,
	})
	var ie *cache.InputError
	if errors.As(err, &ie) {
		return k, &InputError{Input: ie.Input, Msg: ie.Msg}
	}
	return k, err
}

// key computes the dependency key that names the build stage's cache. With
// no cache there is none: no cache is keyed by it, so the run reports no
// cache-key, as with cache off.
func (r *run) key(ctx context.Context) error {
	if r.in.NoCache {
		r.Log.Infof("no-cache: building every step; no cache or skip record is read or written")
	}
	if !r.caching() {
		return nil
	}
	platform, err := r.Builder.Platform(ctx)
	if err != nil {
		return err
	}
	r.plan.platform = platform
	bs := r.plan.buildStage
	if bs == nil {
		return nil
	}
	k, err := r.dependencyKey(platform)
	if err != nil {
		return err
	}
	r.plan.depKey = k
	if platforms := strings.Split(platform, ","); len(platforms) > 1 {
		for _, p := range platforms {
			pk, err := r.dependencyKey(p)
			if err != nil {
				return err
			}
			r.plan.platformKeys = append(r.plan.platformKeys, platformKey{p, pk})
		}
	}
	if len(k.Files) == 0 {
		r.Log.Note(Note{Level: Notice, Title: "cache",
			Message: "no dependency file was found in the build context, so the cache key covers only the build stage's Dockerfile text: set cache-key-files to the files your restore step reads"})
	} else {
		files := "dependency files"
		if len(k.Files) == 1 {
			files = "dependency file"
		}
		if k.Restore {
			files += " the build stage's restore sees"
		}
		r.Log.Infof("Cache key %s from %d %s (%s)", k.Short(), len(k.Files), files, summarize(k.Files))
	}
	if copyLine, runLine, ok := r.plan.df.WholeContextCopy(bs); ok {
		eco := ""
		if len(k.Ecosystems) > 0 {
			eco = k.Ecosystems[0]
		}
		r.Log.Note(Note{Level: Notice, Title: "cache-friendly Dockerfile", File: r.plan.dockerfilePath, Line: copyLine,
			Message: fmt.Sprintf("this copies the whole context before the RUN at line %d, so any source change re-runs that step and all after it: no dependency key can keep the restore cached. Copy the dependency files first, restore, then copy the rest:\n%s", runLine, dockerfile.Advice(eco))})
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
	df := r.plan.df
	names := slices.Clone(df.GlobalArgs)
	for st := s; ; st = &df.Stages[st.Parent] {
		names = append(names, st.Args...)
		if st.Parent < 0 {
			break
		}
	}
	out := map[string]string{}
	for _, n := range names {
		if v, ok := r.in.BuildArgs[n]; ok {
			out[n] = v
		}
	}
	return out
}

// closure is s and every stage it depends on.
func closure(df *dockerfile.Dockerfile, s *dockerfile.Stage) []*dockerfile.Stage {
	seen := map[int]bool{}
	var out []*dockerfile.Stage
	var visit func(i int)
	visit = func(i int) {
		if i < 0 || seen[i] {
			return
		}
		seen[i] = true
		st := &df.Stages[i]
		out = append(out, st)
		visit(st.Parent)
		for _, c := range st.CopiesFrom {
			visit(c)
		}
	}
	visit(s.Index)
	return out
}

// The standard OCI labels (the image-spec's annotations.md), set on the
// runtime image's config.
const (
	labelTitle       = "org.opencontainers.image.title"
	labelDescription = "org.opencontainers.image.description"
	labelURL         = "org.opencontainers.image.url"
	labelSource      = "org.opencontainers.image.source"
	labelVersion     = "org.opencontainers.image.version"
	labelLicenses    = "org.opencontainers.image.licenses"
	labelRevision    = "org.opencontainers.image.revision"
	labelCreated     = "org.opencontainers.image.created"
)

// imageLabels are the runtime image's labels: the standard OCI labels the
// repository and the commit decide, as docker/metadata-action sets them
// (those that are unknown left out), and the build time; then the user's
// labels, which override them. Only the user's are in the skip key: a later
// commit with the same inputs gets its tags attached to the image an
// earlier one built, which keeps naming that commit, its version and time,
// and the repository as it was described then.
func (r *run) imageLabels(created time.Time) map[string]string {
	c := r.in.Commit
	url := c.Repository.URL
	if url == "" {
		url = c.SourceURL
	}
	source := c.SourceURL
	if source == "" {
		source = url
	}
	l := map[string]string{}
	for k, v := range map[string]string{
		labelTitle: c.Repository.Title, labelDescription: c.Repository.Description, labelURL: url, labelSource: source,
		labelVersion: c.Version, labelLicenses: c.Repository.Licenses, labelRevision: c.SHA,
	} {
		if v != "" {
			l[k] = v
		}
	}
	l[labelCreated] = created.UTC().Format(time.RFC3339)
	maps.Copy(l, r.in.Labels)
	return l
}

// skipInput assembles the skip key's input: everything that decides the
// image but the context's files. It returns false, having said why, when
// the build reads something no key can pin: an image that cannot be
// resolved, or a URL an ADD fetches without --checksum.
func (r *run) skipInput(ctx context.Context) (cache.SkipInput, bool, error) {
	in := cache.SkipInput{
		FS:          r.plan.bctx.FS(),
		Dir:         r.in.Context,
		Dockerfile:  r.plan.bctx.Dockerfile(),
		BuildArgs:   r.in.BuildArgs,
		Target:      r.plan.target.Ref(),
		Platform:    r.plan.platform,
		Network:     r.in.Network,
		Labels:      r.in.Labels,
		Annotations: r.in.Annotations,
		Salt:        r.in.CacheSalt,
		Bases:       map[string]string{},
	}
	stages := closure(r.plan.df, r.plan.target)
	for _, s := range stages {
		for _, rm := range r.plan.df.Remotes(s) {
			if rm.Checksum == "" {
				r.skipOff(rm.Line, fmt.Sprintf("ADD %s fetches whatever it serves at build time, which no key can pin; give ADD --checksum=sha256:<digest> to pin it and let identical builds skip", rm.Source))
				return in, false, nil
			}
		}
	}
	ok, err := r.resolveImages(ctx, stages, &in)
	return in, ok, err
}

// skipOff says why this run looks for no identical image.
func (r *run) skipOff(line int, msg string) {
	r.Log.Note(Note{Level: Notice, Title: "skip check off", File: r.plan.dockerfilePath, Line: line, Message: msg + ": building without looking for an identical image"})
}

// resolveImages puts into in what the frontend and every image the stages
// use (FROM, COPY --from, RUN --mount=from) stand for now. An image that
// cannot be resolved turns the skip off (false): it could have moved.
func (r *run) resolveImages(ctx context.Context, stages []*dockerfile.Stage, in *cache.SkipInput) (bool, error) {
	regs := r.registries()
	resolve := func(ref string) (string, bool, error) {
		id, err := r.resolveBase(ctx, regs, ref)
		if err != nil {
			if ctx.Err() != nil {
				return "", false, err
			}
			r.skipOff(0, err.Error())
			return "", false, nil
		}
		return id, true, nil
	}
	if ref, ok := r.plan.df.Syntax(); ok {
		id, ok, err := resolve(ref)
		if !ok {
			return false, err
		}
		in.Frontend, in.FrontendDigest = ref, id
	}
	for _, s := range stages {
		refs := slices.Clone(s.Images)
		if s.Parent < 0 && s.Base != "scratch" {
			refs = append(refs, s.Base)
		}
		for _, ref := range refs {
			if in.Bases[ref] != "" {
				continue
			}
			id, ok, err := resolve(ref)
			if !ok {
				return false, err
			}
			in.Bases[ref] = id
		}
	}
	return true, nil
}

// noteGit says, of each .git in the context, what it costs and how the skip
// key counts it.
func (r *run) noteGit(git []cache.GitEntry) {
	for _, g := range git {
		size := units.HumanSize(float64(g.Size))
		msg := fmt.Sprintf("the build context holds %s (%s), which every build sends to the builder; the skip key counts it as the commit it holds (%s), not its bytes. Add .git to .dockerignore unless a build step reads it.", g.Path, size, shortID(g.Commit))
		if g.Commit == "" {
			msg = fmt.Sprintf("the build context holds %s (%s), whose HEAD names no commit that could be read, so its bytes are in the skip key and a new clone never skips. Add .git to .dockerignore unless a build step reads it.", g.Path, size)
		}
		r.Log.Note(Note{Level: Notice, Title: ".git in the build context", Message: msg})
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
