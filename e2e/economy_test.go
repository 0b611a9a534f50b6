package e2e

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/testenv"
)

// ecrCalls records the ECR operations an endpoint answers (X-Amz-Target).
type ecrCalls struct {
	mu  sync.Mutex
	ops []string
}

func (c *ecrCalls) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op := r.Header.Get("X-Amz-Target"); op != "" {
			_, name, _ := strings.Cut(op, ".")
			c.mu.Lock()
			c.ops = append(c.ops, name)
			c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// take returns the operations since the last take.
func (c *ecrCalls) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.ops
	c.ops = nil
	return ops
}

// TestEconomy: a skip, run through the binary on a fresh runner, makes at
// most 3 ECR calls (one lookup and a PutImage per tag that moves) and never
// asks for a registry token; the repository the first run created is
// IMMUTABLE_WITH_EXCLUSION, with latest, the caches and the action's own
// tags excluded.
func TestEconomy(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	calls := &ecrCalls{}
	e := testenv.StartECR(t, testenv.GGCR, testenv.Options{WrapEndpoint: calls.wrap})
	dir := workspace(t, "twostage")
	inputs := map[string]string{"repository": "acme/app", "network": "none", "tags": "build-1\nlatest"}

	first := github(t, dir, e, inputs)
	if first.code != 0 {
		t.Fatalf("first run: exit code %d", first.code)
	}
	built := calls.take()
	t.Logf("ECR calls of the build: %q", built)

	out, err := e.Client.DescribeRepositories(t.Context(), &awsecr.DescribeRepositoriesInput{RepositoryNames: []string{"acme/app"}})
	if err != nil {
		t.Fatal(err)
	}
	rp := out.Repositories[0]
	if rp.ImageTagMutability != types.ImageTagMutabilityImmutableWithExclusion {
		t.Errorf("created repository is %s, want IMMUTABLE_WITH_EXCLUSION", rp.ImageTagMutability)
	}
	var filters []string
	for _, f := range rp.ImageTagMutabilityExclusionFilters {
		filters = append(filters, string(f.FilterType)+" "+aws.ToString(f.Filter))
	}
	if diff := cmp.Diff([]string{"WILDCARD latest", "WILDCARD buildcache-*", "WILDCARD msb-skip-*", "WILDCARD msb-staging-*"}, filters); diff != "" {
		t.Errorf("exclusion filters (-want +got):\n%s", diff)
	}
	calls.take()

	// The same inputs on a fresh runner, with a new tag beside latest.
	testenv.FreshRunner(t, docker)
	inputs["tags"] = "build-2\nlatest"
	skip := github(t, dir, e, inputs)
	if skip.code != 0 {
		t.Fatalf("skip run: exit code %d", skip.code)
	}
	ops := calls.take()
	t.Logf("ECR calls of the skip: %q", ops)
	if skip.outputs["skipped"] != "true" || skip.outputs["digest"] != first.outputs["digest"] {
		t.Fatalf("skip run: skipped %s, digest %s; want true and %s", skip.outputs["skipped"], skip.outputs["digest"], first.outputs["digest"])
	}
	if len(ops) > 3 {
		t.Errorf("the skip made %d ECR calls %q, want at most 3", len(ops), ops)
	}
	if slices.Contains(ops, "GetAuthorizationToken") {
		t.Errorf("the skip asked for a registry token: %q", ops)
	}
	for _, k := range []string{"image-uri", "registry", "image-size-bytes", "image-id"} {
		if skip.outputs[k] != first.outputs[k] {
			t.Errorf("skip output %s = %q, want the build's %q", k, skip.outputs[k], first.outputs[k])
		}
	}

	// The same again, with the same tags: one lookup.
	testenv.FreshRunner(t, docker)
	again := github(t, dir, e, inputs)
	if ops := calls.take(); again.code != 0 || len(ops) != 1 {
		t.Errorf("a re-run with the same tags: exit %d, ECR calls %q; want one lookup", again.code, ops)
	}
}

// TestLeftoverStagingTag: a build untags a staging tag a crashed run left
// more than an hour ago, and keeps one that is younger.
func TestLeftoverStagingTag(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := workspace(t, "twostage")
	inputs := map[string]string{"repository": "acme/app", "network": "none", "tags": "build-1"}
	if r := github(t, dir, e, inputs); r.code != 0 {
		t.Fatalf("first run: exit code %d", r.code)
	}
	got, err := e.Client.BatchGetImage(t.Context(), &awsecr.BatchGetImageInput{RepositoryName: aws.String("acme/app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("build-1")}}})
	if err != nil || len(got.Images) != 1 {
		t.Fatalf("BatchGetImage = %v, %v", got, err)
	}
	img := got.Images[0]
	old := "msb-staging-0123456789abcdef-" + strconv.FormatInt(time.Now().Add(-2*time.Hour).Unix(), 10)
	young := "msb-staging-fedcba9876543210-" + strconv.FormatInt(time.Now().Add(-5*time.Minute).Unix(), 10)
	for _, tag := range []string{old, young} {
		if _, err := e.Client.PutImage(t.Context(), &awsecr.PutImageInput{RepositoryName: aws.String("acme/app"), ImageManifest: img.ImageManifest, ImageManifestMediaType: img.ImageManifestMediaType, ImageTag: aws.String(tag)}); err != nil {
			t.Fatal(err)
		}
	}

	write(t, dir, "message.txt", "a change, so that the run builds\n")
	inputs["tags"] = "build-2"
	r := github(t, dir, e, inputs)
	if r.code != 0 {
		t.Fatalf("second run: exit code %d", r.code)
	}
	var tags []string
	for _, id := range listImages(t, e, "acme/app") {
		if id.ImageTag != nil {
			tags = append(tags, *id.ImageTag)
		}
	}
	if slices.Contains(tags, old) {
		t.Errorf("the staging tag %s, two hours old, is still there: %q", old, tags)
	}
	if !slices.Contains(tags, young) {
		t.Errorf("the staging tag %s, five minutes old, was removed: %q", young, tags)
	}
}

// TestImmutableWithExclusionRepository: in a repository the run created
// (IMMUTABLE_WITH_EXCLUSION), a later build moves latest and the caches.
func TestImmutableWithExclusionRepository(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := workspace(t, "twostage")
	inputs := map[string]string{"repository": "acme/app", "network": "none", "tags": "build-1\nlatest"}
	first := github(t, dir, e, inputs)
	if first.code != 0 {
		t.Fatalf("first run: exit code %d", first.code)
	}
	write(t, dir, "message.txt", "changed\n")
	inputs["tags"] = "build-2\nlatest"
	second := github(t, dir, e, inputs)
	if second.code != 0 {
		t.Fatalf("second run: exit code %d\n%s", second.code, second.stdout)
	}
	if second.outputs["digest"] == first.outputs["digest"] {
		t.Fatal("a changed source built the same image")
	}
	d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("acme/app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("latest")}}})
	if err != nil || len(d.ImageDetails) != 1 || aws.ToString(d.ImageDetails[0].ImageDigest) != second.outputs["digest"] {
		t.Errorf("latest = %+v, %v; want %s", d, err, second.outputs["digest"])
	}
	if strings.Contains(second.stdout, "::warning::") {
		t.Errorf("warnings in a repository that keeps the run's own tags movable:\n%s", second.stdout)
	}

	// A floating tag (build-1, on the first image) cannot move here: the
	// run says so before it attaches build-3 or moves latest.
	write(t, dir, "message.txt", "changed again\n")
	inputs["tags"] = "build-3\nlatest\nbuild-1"
	third := github(t, dir, e, inputs)
	if third.code != 1 || !strings.Contains(third.stdout, "::error::input tags: build-1 already point at another image in acme/app, whose tags are immutable: no tag was attached") {
		t.Errorf("moving build-1: exit code %d, want 1 and one line naming build-1\n%s", third.code, third.stdout)
	}
	for tag, want := range map[string]string{"build-1": first.outputs["digest"], "latest": second.outputs["digest"], "build-3": ""} {
		d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("acme/app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String(tag)}}})
		got := ""
		if err == nil && len(d.ImageDetails) == 1 {
			got = aws.ToString(d.ImageDetails[0].ImageDigest)
		}
		if got != want {
			t.Errorf("after the refused run, %s points at %q, want %q", tag, got, want)
		}
	}
}
