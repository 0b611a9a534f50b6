package e2e

import (
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/org/ms-build-action/internal/testenv"
)

// faultPoint is one place a remote call can fail, and what a run must say
// when it keeps failing there.
type faultPoint struct {
	name string
	reg  []testenv.Fault // at the registry, for the engine's requests only
	api  []testenv.Fault // at the ECR endpoint
	// cache: the run finds a cache of its dependency key, pushed by an
	// earlier run; base: its Dockerfile's stages are FROM an image only the
	// registry holds.
	cache, base bool
	// want is in the one line a run that keeps failing ends with; warn, in
	// a warning of a run that goes on (a cache is never needed).
	want, warn string
}

// faultPoints are the remote calls of a run: ECR's auth, repository and
// PutImage; the registry's blob uploads and manifests; a cache pull and a
// base image pull.
func faultPoints() []faultPoint {
	uploads := regexp.MustCompile(`/blobs/uploads/`)
	manifests := regexp.MustCompile(`/manifests/`)
	cache := regexp.MustCompile(`^/v2/acme/[^/]+/manifests/buildcache-`)
	base := regexp.MustCompile(`^/v2/base/busybox/`)
	return []faultPoint{
		{name: "auth", api: []testenv.Fault{{Operation: "GetAuthorizationToken", Status: 500, ECRError: "ServerException"}},
			want: "ECR kept failing on GetAuthorizationToken"},
		{name: "repository", api: []testenv.Fault{{Operation: "DescribeRepositories", Status: 500, ECRError: "ServerException"}},
			want: "ECR kept failing on DescribeRepositories"},
		{name: "blob upload", reg: []testenv.Fault{
			{Method: "POST", Path: uploads, Status: 503},
			{Method: "PATCH", Path: uploads, Status: 503},
			{Method: "PUT", Path: uploads, Status: 503},
		}, want: "keeps failing"},
		{name: "manifest", reg: []testenv.Fault{{Method: "PUT", Path: manifests, Status: 503}}, want: "keeps failing"},
		{name: "PutImage", api: []testenv.Fault{{Operation: "PutImage", Status: 500, ECRError: "ServerException"}},
			want: "ECR kept failing on PutImage"},
		// The cache's manifest (the engine asks with HEAD first); the
		// engine holds its layers.
		{name: "cache pull", cache: true, reg: []testenv.Fault{{Path: cache, Status: 503}},
			warn: "keeps failing"},
		{name: "base pull", base: true, reg: []testenv.Fault{{Path: base, Status: 503}}, want: "base/busybox"},
	}
}

// engineOnly applies faults to the engine's requests only: the endpoint
// reads and writes manifests through the same registry, and an ECR call
// that fails there is the endpoint's fault point, not the registry's.
func engineOnly(faults *testenv.Faults) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		faulty := faults.Wrap(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.UserAgent(), "Go-http-client") || strings.Contains(r.UserAgent(), "go-containerregistry") {
				next.ServeHTTP(w, r)
				return
			}
			faulty.ServeHTTP(w, r)
		})
	}
}

// faultRun sets up point p on its own endpoint and registry (the
// credential-checking one), injects its faults, each times in a row (0
// for all), and runs the binary once.
func faultRun(t *testing.T, p faultPoint, times int) (r result, took time.Duration, e *testenv.ECR, repo string, injected int) {
	var reg, api testenv.Faults
	e = testenv.StartECR(t, testenv.DistributionV3, testenv.Options{WrapRegistry: engineOnly(&reg), WrapEndpoint: api.Wrap})
	dir := workspace(t, "twostage")
	// Steps of its own: a run the budget cuts off cancels its build, and
	// Debian's dockerd 20.10 can keep a cancelled build's records in use,
	// beyond any prune; other tests must not find them as their cache.
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "Dockerfile", strings.Replace(string(df), "WORKDIR /src\n", "WORKDIR /src\nENV MSB_TEST_RUN="+rand.Text()+"\n", 1))
	// Each point its own repository: the engine names what a run builds
	// after it, and runs at once must not take each other's names.
	repo = "acme/" + strings.ToLower(strings.ReplaceAll(p.name, " ", "-"))
	inputs := map[string]string{"repository": repo, "network": "none", "tags": "v1"}
	if p.cache {
		// An earlier run stores the dependency key's cache; this one
		// changes a file the key does not cover.
		if r := github(t, dir, e, inputs); r.code != 0 {
			t.Fatalf("the run that stores the cache: exit %d", r.code)
		}
		write(t, dir, "message.txt", "a change the cache key does not see\n")
		inputs["tags"] = "v2"
	}
	if p.base {
		if _, err := e.Client.CreateRepository(t.Context(), &awsecr.CreateRepositoryInput{RepositoryName: aws.String("base/busybox")}); err != nil {
			t.Fatal(err)
		}
		base := e.Registry + "/base/busybox:1"
		testenv.PushBase(t, base, login(t, e))
		write(t, dir, "Dockerfile", "FROM "+base+" AS build\nRUN cat /marker.txt > /out.txt\n\nFROM "+base+"\nCOPY --from=build /out.txt /copied.txt\n")
	}
	for _, f := range p.reg {
		f.Times = times
		reg.Add(f)
	}
	for _, f := range p.api {
		f.Times = times
		api.Add(f)
	}
	start := time.Now()
	r = github(t, dir, e, inputs)
	return r, time.Since(start), e, repo, reg.Injected() + api.Injected()
}

// TestBudgetPersistentFaults: a fault that persists, wherever it sits,
// ends the run within 2 minutes with one line naming the host or operation
// and what to check, and no requested tag attached; a cache that cannot be
// pulled is a warning and the run builds without it. Each point has its
// own endpoint and registry; they run at once, on one runner made fresh
// first.
func TestBudgetPersistentFaults(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	testenv.FreshRunner(t, docker)
	for _, p := range faultPoints() {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			r, took, e, repo, injected := faultRun(t, p, 0)
			t.Logf("%s: a persistent fault ended the run after %v (exit %d, %d faults injected)", p.name, took.Round(100*time.Millisecond), r.code, injected)
			if injected == 0 {
				t.Fatal("no fault was injected: the test did not test")
			}
			if took > 2*time.Minute {
				t.Errorf("the run took %v, want under 2 minutes", took)
			}
			if p.warn != "" {
				if r.code != 0 {
					t.Errorf("exit code %d, want 0: a cache is never needed", r.code)
				}
				if !strings.Contains(r.stdout, "::warning::") || !strings.Contains(r.stdout, p.warn) {
					t.Errorf("no warning saying %q", p.warn)
				}
				return
			}
			if r.code != 1 {
				t.Errorf("exit code %d, want 1", r.code)
			}
			var errLines []string
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(l, "::error") {
					errLines = append(errLines, l)
				}
			}
			if len(errLines) != 1 || !strings.Contains(errLines[0], p.want) || !strings.Contains(errLines[0], "check") {
				t.Errorf("error lines %q: want one naming %q and what to check", errLines, p.want)
			}
			// A run that failed before the repository was made left none.
			out, err := e.Client.ListImages(t.Context(), &awsecr.ListImagesInput{RepositoryName: aws.String(repo)})
			var missing *types.RepositoryNotFoundException
			if err != nil && !errors.As(err, &missing) {
				t.Fatal(err)
			}
			if out != nil {
				for _, id := range out.ImageIds {
					if aws.ToString(id.ImageTag) == "v1" {
						t.Error("v1 was attached although the run failed")
					}
				}
			}
		})
	}
}

// TestBudgetTransientFaults: three faults in a row at each point are
// survived, with the requested tag on the digest the run reports.
func TestBudgetTransientFaults(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	testenv.FreshRunner(t, docker)
	for _, p := range faultPoints() {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			r, took, e, repo, injected := faultRun(t, p, 3)
			t.Logf("%s: three faults in a row, the run took %v (exit %d, %d faults injected)", p.name, took.Round(100*time.Millisecond), r.code, injected)
			if injected < 3 {
				t.Errorf("%d faults injected, want at least 3: the test did not test", injected)
			}
			if r.code != 0 {
				t.Fatalf("exit code %d, want 0: three faults in a row must be survived", r.code)
			}
			tag := "v1"
			if p.cache {
				tag = "v2"
				if r.outputs["cache-hit"] != "true" {
					t.Errorf("cache-hit %q, want true: the cache pull must survive three faults", r.outputs["cache-hit"])
				}
			}
			d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String(tag)}}})
			if err != nil || len(d.ImageDetails) != 1 || aws.ToString(d.ImageDetails[0].ImageDigest) != r.outputs["digest"] {
				t.Errorf("%s does not point at the reported digest %s: %v", tag, r.outputs["digest"], err)
			}
		})
	}
}
