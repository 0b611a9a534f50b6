package ociregistry_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/ociregistry"
	"github.com/org/ms-build-action/internal/pipeline"
	"github.com/org/ms-build-action/internal/registry"
	"github.com/org/ms-build-action/internal/testenv"
)

var _ pipeline.Publisher = (*ociregistry.Publisher)(nil)

// start runs a Local registry for the test.
func start(t *testing.T) *ociregistry.Local {
	t.Helper()
	l, err := ociregistry.Start(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// serve runs go-containerregistry's registry behind wrap, for tests that
// watch or break its traffic.
func serve(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	s := httptest.NewServer(wrap(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// pushed is an image or an index pushed for a test, with what the registry
// must report of it.
type pushed struct {
	digest    v1.Hash
	mediaType types.MediaType
	size      int64 // the layers' compressed sizes; an index's largest image
}

func push(t *testing.T, host, repo, tag string, x any) pushed {
	t.Helper()
	ref, err := name.NewTag(host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	var p pushed
	switch x := x.(type) {
	case v1.Image:
		if err := remote.Write(ref, x, remote.WithContext(t.Context())); err != nil {
			t.Fatal(err)
		}
		p.size = layerBytes(t, x)
		p.digest, err = x.Digest()
		must(t, err)
		p.mediaType, err = x.MediaType()
		must(t, err)
	case v1.ImageIndex:
		if err := remote.WriteIndex(ref, x, remote.WithContext(t.Context())); err != nil {
			t.Fatal(err)
		}
		im, err := x.IndexManifest()
		must(t, err)
		for _, d := range im.Manifests {
			img, err := x.Image(d.Digest)
			must(t, err)
			p.size = max(p.size, layerBytes(t, img))
		}
		p.digest, err = x.Digest()
		must(t, err)
		p.mediaType, err = x.MediaType()
		must(t, err)
	default:
		t.Fatalf("cannot push a %T", x)
	}
	return p
}

// layerBytes adds up the compressed sizes of img's layers, as the layers
// themselves report them.
func layerBytes(t *testing.T, img v1.Image) int64 {
	t.Helper()
	layers, err := img.Layers()
	must(t, err)
	var n int64
	for _, l := range layers {
		size, err := l.Size()
		must(t, err)
		n += size
	}
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 3)
	must(t, err)
	return img
}

func randomIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	// Images of different sizes, so the largest is the one that counts.
	idx, err := random.Index(512, 2, 1)
	must(t, err)
	for i := range 2 {
		img, err := random.Image(int64(700*(i+1)), int64(i+1))
		must(t, err)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img})
	}
	return idx
}

func TestDescribeAndManifest(t *testing.T) {
	t.Parallel()
	l := start(t)
	tests := []struct {
		name string
		make func(t *testing.T) any
	}{
		{"docker image", func(t *testing.T) any { return randomImage(t) }},
		{"oci image", func(t *testing.T) any {
			return mutate.MediaType(mutate.ConfigMediaType(randomImage(t), types.OCIConfigJSON), types.OCIManifestSchema1)
		}},
		{"oci index", func(t *testing.T) any { return randomIndex(t) }},
		{"docker manifest list", func(t *testing.T) any {
			return mutate.IndexMediaType(randomIndex(t), types.DockerManifestList)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := "app-" + strings.ReplaceAll(tt.name, " ", "-")
			want := push(t, l.Host(), repo, "v1", tt.make(t))
			p := ociregistry.New(l.Host(), repo)

			for _, ref := range []string{"v1", want.digest.String()} {
				got, err := p.Describe(t.Context(), ref)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(registry.Image{Digest: want.digest.String(), SizeBytes: want.size}, got); diff != "" {
					t.Errorf("Describe(%s) (-want +got):\n%s", ref, diff)
				}
				m, err := p.Manifest(t.Context(), ref)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := m.Digest(), want.digest.String(); got != want {
					t.Errorf("Manifest(%s).Digest() = %s, want %s", ref, got, want)
				}
				if got, want := m.MediaType, string(want.mediaType); got != want {
					t.Errorf("Manifest(%s).MediaType = %s, want %s", ref, got, want)
				}
			}
		})
	}
}

// recorder notes the method and path of every request while on.
type recorder struct {
	mu       sync.Mutex
	on       bool
	requests []string
}

func (r *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		if r.on {
			r.requests = append(r.requests, req.Method+" "+req.URL.Path)
		}
		r.mu.Unlock()
		next.ServeHTTP(w, req)
	})
}

func (r *recorder) record(on bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = on
	got := r.requests
	r.requests = nil
	return got
}

func TestPutMovesNoBlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		make func(t *testing.T) any
	}{
		{"image", func(t *testing.T) any { return randomImage(t) }},
		{"index", func(t *testing.T) any { return randomIndex(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rec recorder
			host := serve(t, rec.wrap)
			want := push(t, host, "app", "v1", tt.make(t))
			p := ociregistry.New(host, "app")
			m, err := p.Manifest(t.Context(), "v1")
			if err != nil {
				t.Fatal(err)
			}

			rec.record(true)
			for range 2 { // a second put under the same tag changes nothing
				if err := p.Put(t.Context(), "v2", m); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range rec.record(false) {
				if strings.Contains(r, "/blobs/") {
					t.Errorf("Put sent %s: it must move no blob", r)
				}
			}

			got, err := p.Describe(t.Context(), "v2")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(registry.Image{Digest: want.digest.String(), SizeBytes: want.size}, got); diff != "" {
				t.Errorf("Describe(v2) (-want +got):\n%s", diff)
			}
			again, err := p.Manifest(t.Context(), "v2")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m, again); diff != "" {
				t.Errorf("the manifest under v2 is not the one put (-put +got):\n%s", diff)
			}
		})
	}
}

func TestUntag(t *testing.T) {
	t.Parallel()
	l := start(t)
	want := push(t, l.Host(), "app", "v1", randomImage(t))
	p := ociregistry.New(l.Host(), "app")
	m, err := p.Manifest(t.Context(), "v1")
	must(t, err)
	must(t, p.Put(t.Context(), "v2", m))

	must(t, p.Untag(t.Context(), "v1"))
	if _, err := p.Describe(t.Context(), "v1"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Describe(v1) after Untag(v1) = %v, want ErrNotFound", err)
	}
	for _, ref := range []string{"v2", want.digest.String()} {
		got, err := p.Describe(t.Context(), ref)
		if err != nil {
			t.Fatalf("Describe(%s) after Untag(v1): %v", ref, err)
		}
		if got.Digest != want.digest.String() {
			t.Errorf("Describe(%s).Digest = %s, want %s", ref, got.Digest, want.digest)
		}
	}

	// Gone already, or never there: not errors.
	must(t, p.Untag(t.Context(), "v1"))
	must(t, p.Untag(t.Context(), "never"))
	must(t, ociregistry.New(l.Host(), "no-such-repo").Untag(t.Context(), "v1"))
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	l := start(t)
	push(t, l.Host(), "app", "v1", randomImage(t))
	missing := "sha256:" + strings.Repeat("0", 64)
	host := l.Host()
	tests := []struct {
		name    string
		repo    string
		call    func(ctx context.Context, p *ociregistry.Publisher, ref string) error
		ref     string
		wantErr string // the error's start
	}{
		{"describe a tag", "app", describe, "v2", "describing " + host + "/app:v2: "},
		{"describe a digest", "app", describe, missing, "describing " + host + "/app@" + missing + ": "},
		{"describe in a missing repository", "nothing", describe, "v1", "describing " + host + "/nothing:v1: "},
		{"get a tag's manifest", "app", manifest, "v2", "getting the manifest of " + host + "/app:v2: "},
		{"get a digest's manifest", "app", manifest, missing, "getting the manifest of " + host + "/app@" + missing + ": "},
		{"get a manifest in a missing repository", "nothing", manifest, "v1", "getting the manifest of " + host + "/nothing:v1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(t.Context(), ociregistry.New(host, tt.repo), tt.ref)
			if !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
			if errors.Is(err, registry.ErrUnavailable) {
				t.Errorf("got %v: not found is not unavailable", err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("got %q, want it to start %q", err, tt.wantErr)
			}
		})
	}
}

func describe(ctx context.Context, p *ociregistry.Publisher, ref string) error {
	_, err := p.Describe(ctx, ref)
	return err
}

func manifest(ctx context.Context, p *ociregistry.Publisher, ref string) error {
	_, err := p.Manifest(ctx, ref)
	return err
}

func put(ctx context.Context, p *ociregistry.Publisher, tag string) error {
	m := registry.Manifest{Body: []byte(`{"schemaVersion":2}`), MediaType: string(types.OCIManifestSchema1)}
	return p.Put(ctx, tag, m)
}

func untag(ctx context.Context, p *ociregistry.Publisher, tag string) error {
	return p.Untag(ctx, tag)
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	var faults testenv.Faults
	faults.Add(testenv.Fault{Path: regexp.MustCompile(`/manifests/`), Status: http.StatusServiceUnavailable})
	broken := serve(t, faults.Wrap)

	var resets testenv.Faults
	resets.Add(testenv.Fault{Path: regexp.MustCompile(`/manifests/`), Reset: true})
	resetting := serve(t, resets.Wrap)

	stopped, err := ociregistry.Start(t.Context(), "")
	must(t, err)
	must(t, stopped.Close())

	// One try each: retries would only make the test slow.
	once := remote.WithRetryBackoff(remote.Backoff{Steps: 1})
	for _, r := range []struct{ name, host string }{
		{"503", broken},
		{"connection reset", resetting},
		{"connection refused", stopped.Host()},
	} {
		for _, op := range []struct {
			name string
			call func(ctx context.Context, p *ociregistry.Publisher, ref string) error
		}{
			{"Describe", describe},
			{"Manifest", manifest},
			{"Put", put},
			{"Untag", untag},
		} {
			t.Run(r.name+"/"+op.name, func(t *testing.T) {
				t.Parallel()
				err := op.call(t.Context(), ociregistry.New(r.host, "app", once), "v1")
				if !errors.Is(err, registry.ErrUnavailable) {
					t.Errorf("got %v, want ErrUnavailable", err)
				}
				if errors.Is(err, registry.ErrNotFound) {
					t.Errorf("got %v: unavailable is not not found", err)
				}
			})
		}
	}
}

func TestLoginRepositoryExpire(t *testing.T) {
	t.Parallel()
	p := ociregistry.New("127.0.0.1:5000", "team/app")
	login, err := p.Login(t.Context())
	must(t, err)
	if diff := cmp.Diff(registry.Login{Auth: build.Auth{Host: "127.0.0.1:5000"}}, login); diff != "" {
		t.Errorf("Login (-want +got):\n%s", diff)
	}
	for _, create := range []bool{false, true} {
		repo, err := p.Repository(t.Context(), create)
		must(t, err)
		if diff := cmp.Diff(registry.Repository{}, repo); diff != "" {
			t.Errorf("Repository(%v) (-want +got):\n%s", create, diff)
		}
	}
	must(t, p.Expire(t.Context(), registry.Expiry{Prefixes: []string{"cache-"}, Days: 7}))
}
