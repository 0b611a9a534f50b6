package pipeline_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/pipeline"
	"github.com/org/ms-build-action/internal/registry"
)

// Fakes of the run's two seams and its log. They keep state as the real
// parts do (a registry's tags and manifests, a builder's images), so that
// one test can run the pipeline several times, as successive CI runs, and
// see what earlier runs left. Faults are scripted per call.

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// fakeRegistry is a repository in a registry: tags point at manifests.
type fakeRegistry struct {
	mu        sync.Mutex
	host      string
	now       func() time.Time
	ttl       time.Duration // login lifetime; 0: 12 hours
	password  string
	exists    bool
	immutable bool
	// exclusions are the tags immutable does not hold for
	// (IMMUTABLE_WITH_EXCLUSION).
	exclusions []string
	manifests  map[string]registry.Manifest // by digest
	pushedAt   map[string]time.Time         // tag -> when it was set
	tags       map[string]string            // tag -> digest
	sizes      map[string]int64             // digest -> compressed size
	blobs      map[string][]byte            // digest -> an image config
	logins     int
	issued     []string // every password handed out
	expiry     *registry.Expiry
	calls      []string
	// fail, when set, is asked before each call; an error it returns is the
	// call's answer.
	fail func(op, ref string) error
}

var _ pipeline.Publisher = (*fakeRegistry)(nil)

func newRegistry(now func() time.Time) *fakeRegistry {
	return &fakeRegistry{host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", now: now, password: "pa55-" + sum("pw")[7:20],
		manifests: map[string]registry.Manifest{}, tags: map[string]string{}, sizes: map[string]int64{}, pushedAt: map[string]time.Time{}, blobs: map[string][]byte{}}
}

func (f *fakeRegistry) call(op, ref string) error {
	f.calls = append(f.calls, op+" "+ref)
	if f.fail != nil {
		return f.fail(op, ref)
	}
	return nil
}

// count is how many calls of op were made.
func (f *fakeRegistry) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, op+" ") {
			n++
		}
	}
	return n
}

func (f *fakeRegistry) Login(context.Context) (registry.Login, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Login", ""); err != nil {
		return registry.Login{}, err
	}
	f.logins++
	f.issued = append(f.issued, fmt.Sprintf("%s-%d", f.password, f.logins))
	ttl := f.ttl
	if ttl == 0 {
		ttl = 12 * time.Hour
	}
	return registry.Login{Auth: build.Auth{Host: f.host, Username: "AWS", Password: fmt.Sprintf("%s-%d", f.password, f.logins)}, ExpiresAt: f.now().Add(ttl)}, nil
}

func (f *fakeRegistry) Repository(_ context.Context, create bool) (registry.Repository, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Repository", ""); err != nil {
		return registry.Repository{}, err
	}
	if f.exists {
		return registry.Repository{Immutable: f.immutable, Exclusions: f.exclusions}, nil
	}
	if !create {
		return registry.Repository{}, fmt.Errorf("repository team/app does not exist and create-repository is false: %w", registry.ErrRepositoryMissing)
	}
	f.exists = true
	return registry.Repository{Created: true, Immutable: f.immutable, Exclusions: f.exclusions}, nil
}

func (f *fakeRegistry) Expire(_ context.Context, e registry.Expiry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Expire", ""); err != nil {
		return err
	}
	f.expiry = &e
	return nil
}

func (f *fakeRegistry) resolve(ref string) (string, bool) {
	if strings.HasPrefix(ref, "sha256:") {
		_, ok := f.manifests[ref]
		return ref, ok
	}
	d, ok := f.tags[ref]
	return d, ok
}

func (f *fakeRegistry) Describe(_ context.Context, ref string) (registry.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Describe", ref); err != nil {
		return registry.Image{}, err
	}
	d, ok := f.resolve(ref)
	if !ok {
		return registry.Image{}, fmt.Errorf("describing %s: %w", ref, registry.ErrNotFound)
	}
	return registry.Image{Digest: d, SizeBytes: f.sizes[d]}, nil
}

func (f *fakeRegistry) Manifest(_ context.Context, ref string) (registry.Manifest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Manifest", ref); err != nil {
		return registry.Manifest{}, err
	}
	d, ok := f.resolve(ref)
	if !ok {
		return registry.Manifest{}, fmt.Errorf("getting %s: %w", ref, registry.ErrNotFound)
	}
	return f.manifests[d], nil
}

func (f *fakeRegistry) Put(_ context.Context, tag string, m registry.Manifest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Put", tag); err != nil {
		return err
	}
	return f.putLocked(tag, m)
}

func (f *fakeRegistry) putLocked(tag string, m registry.Manifest) error {
	d := m.Digest()
	if cur, ok := f.tags[tag]; ok && cur != d && !(registry.Repository{Immutable: f.immutable, Exclusions: f.exclusions}).Mutable(tag) {
		return fmt.Errorf("tag %s already exists, whose tags are immutable", tag)
	}
	var man struct {
		Config struct{ Digest string }
		Layers []struct{ Size int64 }
	}
	if err := json.Unmarshal(m.Body, &man); err != nil {
		return err
	}
	var size int64
	for _, l := range man.Layers {
		size += l.Size
	}
	if f.tags[tag] != d {
		f.pushedAt[tag] = f.now()
	}
	f.manifests[d], f.sizes[d], f.tags[tag] = m, size, d
	return nil
}

// Lookup answers as ECR's BatchGetImage: one call for all tags; a missing
// repository is ErrNotFound.
func (f *fakeRegistry) Lookup(_ context.Context, tags []string) (map[string]registry.Manifest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Lookup", strings.Join(tags, ",")); err != nil {
		return nil, err
	}
	if !f.exists {
		return nil, fmt.Errorf("looking up: repository team/app: %w (%w)", registry.ErrNotFound, registry.ErrRepositoryMissing)
	}
	out := map[string]registry.Manifest{}
	for _, t := range tags {
		if d, ok := f.tags[t]; ok {
			out[t] = f.manifests[d]
		}
	}
	return out, nil
}

// Blob returns a config blob stored with a push or by a test.
func (f *fakeRegistry) Blob(_ context.Context, digest string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Blob", digest); err != nil {
		return nil, err
	}
	b, ok := f.blobs[digest]
	if !ok {
		return nil, fmt.Errorf("reading blob %s: %w", digest, registry.ErrNotFound)
	}
	return b, nil
}

// Tagged lists the tags with when they were set.
func (f *fakeRegistry) Tagged(context.Context) ([]registry.Tag, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Tagged", ""); err != nil {
		return nil, err
	}
	var out []registry.Tag
	for t, d := range f.tags {
		out = append(out, registry.Tag{Name: t, Digest: d, PushedAt: f.pushedAt[t]})
	}
	slices.SortFunc(out, func(a, b registry.Tag) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// tagAt sets a tag as an earlier run did at a given time.
func (f *fakeRegistry) tagAt(tag string, m registry.Manifest, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exists = true
	if err := f.putLocked(tag, m); err != nil {
		panic(err)
	}
	f.pushedAt[tag] = at
}

func (f *fakeRegistry) Untag(_ context.Context, tag string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("Untag", tag); err != nil {
		return err
	}
	delete(f.tags, tag)
	delete(f.pushedAt, tag)
	return nil
}

// tagged lists the repository's tags.
func (f *fakeRegistry) tagged() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for t := range f.tags {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func (f *fakeRegistry) digestOf(tag string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tags[tag]
}

// fakeBuilder is a builder's store: built images by id, and pushes into a
// fakeRegistry.
type fakeBuilder struct {
	mu       sync.Mutex
	reg      *fakeRegistry // where pushes land
	images   map[string]int64
	builds   []build.Spec
	pushes   []string // refs pushed
	pulls    []string
	names    []string
	auths    []build.Auth // credentials each push and pull was handed
	bases    map[string]string
	platform string
	// bases are the base images the builder holds (ref -> image id),
	// published what their registries hold (ref -> manifest digest): a tag
	// that moves in its registry moves in published only, until a pull.
	published map[string]string
	resolved  []resolution // each ResolveBase call
	// layer is the compressed size of each pushed image's one layer, made
	// by RUN make; layers, when set, are the pushed image's layers instead.
	layer  int64
	layers []fakeLayer
	// buildFail, pushFail and pullFail, when set, are asked before each call.
	buildFail func(ctx context.Context, s build.Spec) error
	pushFail  func(ref string, try int) error
	pullFail  func(ref string) error
	// steps are the step names a build of a target reports before its own,
	// and then is asked of the build before it returns.
	steps map[string][]string
	then  func(ctx context.Context, s build.Spec)
	tries map[string]int
	// bounded says, push by push, whether it ran under a deadline.
	bounded []bool
}

var _ pipeline.Builder = (*fakeBuilder)(nil)

func newBuilder(reg *fakeRegistry) *fakeBuilder {
	return &fakeBuilder{reg: reg, images: map[string]int64{}, tries: map[string]int{}, platform: "linux/amd64", layer: 4000,
		bases:     map[string]string{"golang:1": sum("golang"), "busybox:1": sum("busybox")},
		published: map[string]string{"golang:1": sum("golang manifest"), "busybox:1": sum("busybox manifest")}}
}

// resolution is one ResolveBase call.
type resolution struct {
	ref    string
	auth   build.Auth
	remote bool
}

func (b *fakeBuilder) Check(context.Context) error { return nil }

func (b *fakeBuilder) Platform(context.Context) (string, error) { return b.platform, nil }

// ResolveBase answers as the engine does: without remote, the image the
// builder holds, else its registry's digest; with remote, only the
// registry's.
func (b *fakeBuilder) ResolveBase(_ context.Context, ref string, auth build.Auth, remote bool) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.resolved = append(b.resolved, resolution{ref, auth, remote})
	if id, ok := b.bases[ref]; ok && !remote {
		return id, nil
	}
	// The registry pushed to, as ECR, answers no one without its login.
	if b.reg != nil && strings.HasPrefix(ref, b.reg.host+"/") && !slices.Contains(b.reg.passwords(), auth.Password) {
		return "", fmt.Errorf("resolving base image %s in its registry: unauthorized", ref)
	}
	d, ok := b.published[ref]
	if !ok {
		return "", fmt.Errorf("resolving base image %s in its registry: not found", ref)
	}
	return d, nil
}

func (b *fakeBuilder) Build(ctx context.Context, s build.Spec, p build.Progress) (build.Image, error) {
	b.mu.Lock()
	b.builds = append(b.builds, s)
	fail := b.buildFail
	b.mu.Unlock()
	if fail != nil {
		if err := fail(ctx, s); err != nil {
			return build.Image{}, err
		}
	}
	b.mu.Lock()
	names, then := append(b.steps[s.Target], fmt.Sprintf("[%s 1/1] RUN make", s.Target)), b.then
	b.mu.Unlock()
	for _, name := range names {
		step := build.Step{Name: name, Started: time.Unix(0, 0), Completed: time.Unix(1, 0)}
		p.StepStarted(step)
		p.StepDone(step)
	}
	if then != nil {
		then(ctx, s)
	}
	img := build.Image{ID: sum(s.Target + "|" + strings.Join(s.CacheFrom, ",")), Size: 1000 + int64(len(s.Target))*100}
	if s.Target == "build" {
		img.Size = 500_000
	}
	b.mu.Lock()
	b.images[img.ID] = img.Size
	b.mu.Unlock()
	return img, nil
}

// manifestFor is the OCI manifest a push of imageID makes.
func manifestFor(imageID string, layer int64) registry.Manifest {
	body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":100},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
		imageID, sum(imageID+"|layer"), layer)
	return registry.Manifest{Body: []byte(body), MediaType: "application/vnd.oci.image.manifest.v1+json"}
}

// fakeLayer is one layer of an image: what made it and its compressed size.
type fakeLayer struct {
	createdBy string
	size      int64
}

// imageWith is the OCI manifest and config of an image of layers, its
// config's history naming each layer (with an empty layer between, as
// ENV or CMD make). A layer's digest is its history entry and size.
func imageWith(layers []fakeLayer) (registry.Manifest, []byte) {
	var ls, hs []string
	for _, l := range layers {
		ls = append(ls, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}`, sum(fmt.Sprint(l.createdBy, l.size)), l.size))
		by, _ := json.Marshal(l.createdBy)
		hs = append(hs, fmt.Sprintf(`{"created_by":%s}`, by), `{"created_by":"ENV A=1","empty_layer":true}`)
	}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"history":[` + strings.Join(hs, ",") + `]}`)
	body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[%s]}`,
		sum(string(config)), len(config), strings.Join(ls, ","))
	return registry.Manifest{Body: []byte(body), MediaType: "application/vnd.oci.image.manifest.v1+json"}, config
}

func (b *fakeBuilder) Push(ctx context.Context, imageID, ref string, auth build.Auth) (build.Pushed, error) {
	b.mu.Lock()
	b.tries[ref]++
	try, fail := b.tries[ref], b.pushFail
	b.pushes = append(b.pushes, ref)
	_, bounded := ctx.Deadline()
	b.bounded = append(b.bounded, bounded)
	b.auths = append(b.auths, auth)
	_, built := b.images[imageID]
	b.mu.Unlock()
	if !built {
		return build.Pushed{}, fmt.Errorf("pushing %s: no image %s", ref, imageID)
	}
	if err := ctx.Err(); err != nil {
		return build.Pushed{}, err
	}
	if fail != nil {
		if err := fail(ref, try); err != nil {
			return build.Pushed{}, err
		}
	}
	host, rest, _ := strings.Cut(ref, "/")
	_, tag, _ := strings.Cut(rest, ":")
	if host != b.reg.host {
		return build.Pushed{}, fmt.Errorf("pushing %s: not the registry's host", ref)
	}
	m := manifestFor(imageID, b.layer)
	config := []byte(`{"history":[{"created_by":"RUN make"}]}`)
	if len(b.layers) > 0 {
		m, config = imageWith(b.layers)
	}
	cfg, _, _ := cache.ImageLayers(m.Body)
	b.reg.mu.Lock()
	err := b.reg.putLocked(tag, m)
	b.reg.blobs[cfg] = config
	b.reg.mu.Unlock()
	if err != nil {
		return build.Pushed{}, err
	}
	return build.Pushed{Digest: m.Digest(), Size: int64(len(m.Body))}, nil
}

func (b *fakeBuilder) Pull(_ context.Context, ref string, auth build.Auth) error {
	b.mu.Lock()
	b.pulls = append(b.pulls, ref)
	b.auths = append(b.auths, auth)
	fail := b.pullFail
	b.mu.Unlock()
	if fail != nil {
		return fail(ref)
	}
	return nil
}

func (b *fakeBuilder) Name(_ context.Context, imageID, ref string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.names = append(b.names, ref)
	return nil
}

// targets lists the targets built, in order.
func (b *fakeBuilder) targets() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, s := range b.builds {
		out = append(out, s.Target)
	}
	return out
}

func (b *fakeBuilder) spec(target string) (build.Spec, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.builds {
		if s.Target == target {
			return s, true
		}
	}
	return build.Spec{}, false
}

// fakeLog records what the run says, redacting masked secrets as the real
// reporters do; raw keeps what it was handed, to prove secrets were masked
// before they were said.
type fakeLog struct {
	mu      sync.Mutex
	masked  []string
	lines   []string
	notes   []pipeline.Note
	leaked  []string        // lines that held a secret not masked before they were said
	secrets func() []string // every secret handed out so far
}

func (l *fakeLog) Mask(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.masked = append(l.masked, s)
}

func (l *fakeLog) say(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var secrets []string
	if l.secrets != nil {
		secrets = l.secrets()
	}
	for _, sec := range secrets {
		if strings.Contains(s, sec) && !slices.Contains(l.masked, sec) {
			l.leaked = append(l.leaked, s)
		}
	}
	l.lines = append(l.lines, s)
}

func (l *fakeLog) Infof(format string, args ...any) { l.say(fmt.Sprintf(format, args...)) }
func (l *fakeLog) Status(string) bool               { return false }

func (l *fakeLog) Section(title string, body []byte) {
	l.say(title + "\n" + string(body))
}
func (l *fakeLog) Note(n pipeline.Note) {
	l.say(fmt.Sprintf("%d %s %s:%d %s", n.Level, n.Title, n.File, n.Line, n.Message))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.notes = append(l.notes, n)
}

func (l *fakeLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// has reports whether a note of the level says sub.
func (l *fakeLog) has(level pipeline.Level, sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.notes, func(n pipeline.Note) bool { return n.Level == level && strings.Contains(n.Message, sub) })
}

var errTransient = fmt.Errorf("received unexpected HTTP status: 503 Service Unavailable: %w", registry.ErrUnavailable)

var errStep = &build.StepError{Step: "[build 6/6] RUN go build -o /out/app .", Msg: `process "/bin/sh -c go build" did not complete successfully: exit code: 1`}

// errorsIs is errors.Is, named for the tables.
var errorsIs = errors.Is

// passwords is every password the registry handed out so far.
func (f *fakeRegistry) passwords() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.issued)
}

// callLog is every call so far, as "Op ref".
func (f *fakeRegistry) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}
