package ecrlocal_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/org/ms-build-action/internal/testenv/ecrlocal"
)

// fakeClock is a settable clock for token expiry and push times.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Millisecond)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start runs a Local for the test and closes it at the end.
func start(t *testing.T, cfg ecrlocal.Config, opts ...ecrlocal.Option) *ecrlocal.Local {
	t.Helper()
	l, err := ecrlocal.Start(t.Context(), cfg, opts...)
	if err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close() error = %v", err)
		}
	})
	return l
}

// newClient returns the real SDK client pointed at endpoint with static credentials.
func newClient(endpoint, region, keyID, secret string) *ecr.Client {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret, Source: "test"}, nil
	})
	return ecr.NewFromConfig(aws.Config{Region: region, Credentials: creds}, func(o *ecr.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}

func clientFor(l *ecrlocal.Local) *ecr.Client {
	return newClient(l.Endpoint, l.Region, l.AccessKeyID, l.SecretAccessKey)
}

// login calls GetAuthorizationToken and returns the registry's password and host, as the product
// derives them (base64 "AWS:<password>", proxyEndpoint without its scheme).
func login(t *testing.T, c *ecr.Client) (password, host string) {
	t.Helper()
	out, err := c.GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatalf("GetAuthorizationToken() error = %v", err)
	}
	data := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(data.AuthorizationToken))
	if err != nil {
		t.Fatalf("decoding authorization token: %v", err)
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok || user != "AWS" {
		t.Fatalf("authorization token user = %q, want AWS", user)
	}
	host = aws.ToString(data.ProxyEndpoint)
	host = strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	return password, host
}

func createRepository(t *testing.T, c *ecr.Client, repo string, mutability types.ImageTagMutability) *types.Repository {
	t.Helper()
	out, err := c.CreateRepository(t.Context(), &ecr.CreateRepositoryInput{
		RepositoryName:     aws.String(repo),
		ImageTagMutability: mutability,
	})
	if err != nil {
		t.Fatalf("CreateRepository(%q) error = %v", repo, err)
	}
	return out.Repository
}

func randomImage(t *testing.T, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(512, layers)
	if err != nil {
		t.Fatalf("random.Image() error = %v", err)
	}
	return img
}

// push writes img to host/repo:tag (or @digest when tag is "") with the password as ECR's AWS user.
func push(ctx context.Context, host, repo, tag, password string, img v1.Image) error {
	var ref name.Reference
	var err error
	if tag == "" {
		d, derr := img.Digest()
		if derr != nil {
			return derr
		}
		ref, err = name.NewDigest(host+"/"+repo+"@"+d.String(), name.Insecure)
	} else {
		ref, err = name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	}
	if err != nil {
		return err
	}
	return remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: "AWS", Password: password}))
}

func mustPush(t *testing.T, host, repo, tag, password string, img v1.Image) v1.Hash {
	t.Helper()
	if err := push(t.Context(), host, repo, tag, password, img); err != nil {
		t.Fatalf("pushing %s:%s: %v", repo, tag, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// layerBytes is the sum of img's compressed layer sizes, as its manifest states them.
func layerBytes(t *testing.T, img v1.Image) int64 {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, l := range m.Layers {
		sum += l.Size
	}
	return sum
}

// registryCode returns the first OCI error code of a go-containerregistry error and its status.
func registryCode(err error) (string, int) {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return "", 0
	}
	if len(terr.Errors) == 0 {
		return "", terr.StatusCode
	}
	return string(terr.Errors[0].Code), terr.StatusCode
}

// requestCounter counts requests to the registry by method and path kind.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *requestCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "other"
		switch {
		case strings.Contains(r.URL.Path, "/blobs/"):
			kind = "blobs"
		case strings.Contains(r.URL.Path, "/manifests/"):
			kind = "manifests"
		}
		c.mu.Lock()
		if c.counts == nil {
			c.counts = map[string]int{}
		}
		c.counts[r.Method+" "+kind]++
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (c *requestCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[string]int{}
}

func (c *requestCounter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[key]
}
