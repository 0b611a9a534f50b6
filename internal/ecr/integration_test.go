package ecr_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/ms-build-action/internal/ecr"
	"github.com/org/ms-build-action/internal/registry"
	"github.com/org/ms-build-action/internal/testenv"
)

// These tests drive the adapter through the real AWS SDK against the
// project's ECR endpoint, in front of a registry that checks the passwords
// the endpoint issues. Each test starts its own endpoint, so they run in
// parallel.

const repo = "team/app"

// ready starts an endpoint with repo created and returns the adapter for
// repo and a login for pushing to it.
func ready(t *testing.T, backend testenv.Backend, opts ...testenv.Options) (*testenv.ECR, *ecr.Registry, registry.Login) {
	t.Helper()
	e := testenv.StartECR(t, backend, opts...)
	r := ecr.New(e.Client, "", repo)
	if _, err := r.Repository(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	login, err := r.Login(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return e, r, login
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 2)
	must(t, err)
	return img
}

// pushImage pushes img to host/repository:tag with the login's credentials.
func pushImage(t *testing.T, l registry.Login, repository, tag string, img v1.Image) error {
	t.Helper()
	ref, err := name.NewTag(l.Host+"/"+repository+":"+tag, name.Insecure)
	must(t, err)
	auth := authn.FromConfig(authn.AuthConfig{Username: l.Username, Password: l.Password})
	return remote.Write(ref, img, remote.WithAuth(auth), remote.WithContext(t.Context()))
}

// layerBytes is imageSizeInBytes as ECR counts it: the compressed layers.
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

// TestIntegrationLogin: the credentials Login returns are for the
// endpoint's registry and the registry itself accepts them for a push;
// other credentials are refused. Both backends: distribution/v3 checks the
// password with its own htpasswd.
func TestIntegrationLogin(t *testing.T) {
	t.Parallel()
	for _, backend := range []testenv.Backend{testenv.GGCR, testenv.DistributionV3} {
		t.Run(string(backend), func(t *testing.T) {
			t.Parallel()
			e, _, login := ready(t, backend)
			if got, want := login.Host, e.Registry; got != want {
				t.Errorf("Login().Host = %q, want the endpoint's registry %q", got, want)
			}
			if got, want := login.Username, "AWS"; got != want {
				t.Errorf("Login().Username = %q, want %q", got, want)
			}
			if login.Password == "" {
				t.Fatal("Login() returned no password")
			}
			if until := time.Until(login.ExpiresAt); until < time.Hour {
				t.Errorf("Login().ExpiresAt = %v, want hours from now", login.ExpiresAt)
			}
			if err := pushImage(t, login, repo, "v1", randomImage(t)); err != nil {
				t.Fatalf("pushing with the login's credentials: %v", err)
			}

			wrong := login
			wrong.Password = login.Password + "x"
			err := pushImage(t, wrong, repo, "v2", randomImage(t))
			if err == nil {
				t.Fatal("pushing with a wrong password succeeded, want it refused")
			}
			if !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToUpper(err.Error()), "UNAUTHORIZED") {
				t.Errorf("push with a wrong password: %v, want 401 Unauthorized", err)
			}
		})
	}
}

// TestIntegrationRepository: a missing repository is ErrRepositoryMissing
// with what to do, unless it may be created; an existing one is found, not
// created again; an immutable one says so.
func TestIntegrationRepository(t *testing.T) {
	t.Parallel()
	e := testenv.StartECR(t, testenv.GGCR)
	r := ecr.New(e.Client, "", repo)

	_, err := r.Repository(t.Context(), false)
	if !errors.Is(err, registry.ErrRepositoryMissing) || !strings.Contains(err.Error(), "create it or set create-repository: true") {
		t.Errorf("Repository(create=false) of a missing repository: %v, want ErrRepositoryMissing saying what to do", err)
	}
	got, err := r.Repository(t.Context(), true)
	created := registry.Repository{Immutable: true, Exclusions: ecr.MutableTags}
	if err != nil || !cmp.Equal(got, registry.Repository{Created: true, Immutable: true, Exclusions: ecr.MutableTags}) {
		t.Errorf("Repository(create=true) = %+v, %v; want created, immutable but for the action's own tags", got, err)
	}
	for _, create := range []bool{true, false} {
		got, err := r.Repository(t.Context(), create)
		if err != nil || !cmp.Equal(got, created) {
			t.Errorf("Repository(create=%v) of an existing repository = %+v, %v; want found, not created", create, got, err)
		}
	}

	_, err = e.Client.CreateRepository(t.Context(), &awsecr.CreateRepositoryInput{RepositoryName: aws.String("team/locked"), ImageTagMutability: types.ImageTagMutabilityImmutable})
	must(t, err)
	got, err = ecr.New(e.Client, "", "team/locked").Repository(t.Context(), false)
	if err != nil || !cmp.Equal(got, registry.Repository{Immutable: true}) {
		t.Errorf("Repository() of an immutable repository = %+v, %v; want immutable", got, err)
	}
}

// TestIntegrationExpire: the lifecycle policy Expire writes passes the
// endpoint's validation of ECR's grammar and reads back with one rule per
// prefix.
func TestIntegrationExpire(t *testing.T) {
	t.Parallel()
	e, r, _ := ready(t, testenv.GGCR)
	if err := r.Expire(t.Context(), registry.Expiry{Prefixes: []string{"buildcache-", "msb-skip-"}, Days: 14}); err != nil {
		t.Fatalf("Expire() = %v", err)
	}
	out, err := e.Client.GetLifecyclePolicy(t.Context(), &awsecr.GetLifecyclePolicyInput{RepositoryName: aws.String(repo)})
	must(t, err)
	text := aws.ToString(out.LifecyclePolicyText)
	for _, want := range []string{`"tagPatternList":["buildcache-*"]`, `"tagPatternList":["msb-skip-*"]`, `"countNumber":14`} {
		if !strings.Contains(text, want) {
			t.Errorf("lifecycle policy %s lacks %s", text, want)
		}
	}
}

// TestIntegrationDescribeAndManifest: by tag and by digest, the adapter
// gives what the registry holds: the digest, ECR's size and the manifest's
// exact bytes; a tag no image has is ErrNotFound.
func TestIntegrationDescribeAndManifest(t *testing.T) {
	t.Parallel()
	e, r, login := ready(t, testenv.GGCR)
	img := randomImage(t)
	must(t, pushImage(t, login, repo, "v1", img))
	digest, err := img.Digest()
	must(t, err)
	raw, err := img.RawManifest()
	must(t, err)
	mt, err := img.MediaType()
	must(t, err)
	d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	must(t, err)
	ecrSize := aws.ToInt64(d.ImageDetails[0].ImageSizeInBytes)
	if got, want := ecrSize, layerBytes(t, img); got != want {
		t.Errorf("the endpoint reports imageSizeInBytes %d, want the compressed layers' %d", got, want)
	}

	for _, ref := range []string{"v1", digest.String()} {
		got, err := r.Describe(t.Context(), ref)
		if err != nil {
			t.Fatalf("Describe(%s) = %v", ref, err)
		}
		if diff := cmp.Diff(registry.Image{Digest: digest.String(), SizeBytes: ecrSize}, got); diff != "" {
			t.Errorf("Describe(%s) (-want +got):\n%s", ref, diff)
		}
		m, err := r.Manifest(t.Context(), ref)
		if err != nil {
			t.Fatalf("Manifest(%s) = %v", ref, err)
		}
		if diff := cmp.Diff(registry.Manifest{Body: raw, MediaType: string(mt)}, m); diff != "" {
			t.Errorf("Manifest(%s) (-want +got):\n%s", ref, diff)
		}
	}

	if _, err := r.Describe(t.Context(), "missing"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Describe(missing) = %v, want ErrNotFound", err)
	}
	if _, err := r.Manifest(t.Context(), "missing"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Manifest(missing) = %v, want ErrNotFound", err)
	}
}

// blobWrites records the blob uploads a registry sees.
type blobWrites struct {
	mu sync.Mutex
	n  int
}

func (b *blobWrites) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && strings.Contains(r.URL.Path, "/blobs/") {
			b.mu.Lock()
			b.n++
			b.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

func (b *blobWrites) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// TestIntegrationPut: a manifest the repository holds goes under a new tag
// with no blob moved.
func TestIntegrationPut(t *testing.T) {
	t.Parallel()
	var blobs blobWrites
	_, r, login := ready(t, testenv.GGCR, testenv.Options{WrapRegistry: blobs.wrap})
	img := randomImage(t)
	must(t, pushImage(t, login, repo, "v1", img))
	m, err := r.Manifest(t.Context(), "v1")
	must(t, err)
	before := blobs.count()
	if before == 0 {
		t.Fatal("the push uploaded no blob: the recorder sees nothing")
	}

	if err := r.Put(t.Context(), "release", m); err != nil {
		t.Fatalf("Put(release) = %v", err)
	}
	if n := blobs.count() - before; n != 0 {
		t.Errorf("Put() moved %d blobs, want none", n)
	}
	got, err := r.Describe(t.Context(), "release")
	if err != nil || got.Digest != m.Digest() {
		t.Errorf("Describe(release) = %+v, %v; want digest %s", got, err, m.Digest())
	}
	if err := r.Put(t.Context(), "release", m); err != nil {
		t.Errorf("Put() of a tag that has the manifest already = %v, want nil", err)
	}
}

// TestIntegrationPutImmutable: on a repository with immutable tags, putting
// the manifest a tag has is fine (a re-run), moving the tag is refused with
// what to do.
func TestIntegrationPutImmutable(t *testing.T) {
	t.Parallel()
	e := testenv.StartECR(t, testenv.GGCR)
	_, err := e.Client.CreateRepository(t.Context(), &awsecr.CreateRepositoryInput{RepositoryName: aws.String(repo), ImageTagMutability: types.ImageTagMutabilityImmutable})
	must(t, err)
	r := ecr.New(e.Client, "", repo)
	login, err := r.Login(t.Context())
	must(t, err)
	must(t, pushImage(t, login, repo, "v1", randomImage(t)))
	must(t, pushImage(t, login, repo, "other", randomImage(t)))
	v1, err := r.Manifest(t.Context(), "v1")
	must(t, err)
	other, err := r.Manifest(t.Context(), "other")
	must(t, err)

	if err := r.Put(t.Context(), "v1", v1); err != nil {
		t.Errorf("Put(v1) of the manifest v1 has = %v, want nil", err)
	}
	err = r.Put(t.Context(), "v1", other)
	if err == nil || !strings.Contains(err.Error(), "immutable: choose a new tag") {
		t.Errorf("Put(v1) of another manifest = %v, want a refusal saying to choose a new tag", err)
	}
	if got, err := r.Describe(t.Context(), "v1"); err != nil || got.Digest != v1.Digest() {
		t.Errorf("after the refused Put, Describe(v1) = %+v, %v; want digest %s", got, err, v1.Digest())
	}
}

// TestIntegrationUntag: a tag goes; a tag that is not there is no error.
func TestIntegrationUntag(t *testing.T) {
	t.Parallel()
	_, r, login := ready(t, testenv.GGCR)
	must(t, pushImage(t, login, repo, "buildcache-1", randomImage(t)))
	if err := r.Untag(t.Context(), "buildcache-1"); err != nil {
		t.Fatalf("Untag() = %v", err)
	}
	if _, err := r.Describe(t.Context(), "buildcache-1"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Describe() of the removed tag = %v, want ErrNotFound", err)
	}
	if err := r.Untag(t.Context(), "buildcache-1"); err != nil {
		t.Errorf("Untag() of a missing tag = %v, want nil", err)
	}
}

// TestIntegrationPersistentServerError: an operation the endpoint always
// answers with a 500 fails after the SDK's retries, in bounded time, and
// the error names the operation.
func TestIntegrationPersistentServerError(t *testing.T) {
	t.Parallel()
	var faults testenv.Faults
	_, r, _ := ready(t, testenv.GGCR, testenv.Options{WrapEndpoint: faults.Wrap})
	faults.Add(testenv.Fault{Operation: "DescribeImages", Status: 500, ECRError: "ServerException"})

	start := time.Now()
	_, err := r.Describe(t.Context(), "v1")
	took := time.Since(start)
	t.Logf("Describe failed after %v and %d requests: %v", took, faults.Injected(), err)
	if err == nil || !strings.Contains(err.Error(), "DescribeImages") {
		t.Errorf("Describe() = %v, want an error naming DescribeImages", err)
	}
	if errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Describe() = %v: a server error is not ErrNotFound", err)
	}
	if faults.Injected() < 2 {
		t.Errorf("%d requests failed, want the SDK to retry", faults.Injected())
	}
	if took > 30*time.Second {
		t.Errorf("Describe() took %v to give up, want under 30s", took)
	}
}
