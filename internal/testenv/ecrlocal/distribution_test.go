package ecrlocal_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/testenv"
	"github.com/org/ms-build-action/internal/testenv/ecrlocal"
)

// distributionEnv runs the endpoint with a distribution/v3 registry behind the gate. The endpoint
// issues fixed; the registry's htpasswd holds htpasswd for user AWS.
func distributionEnv(t *testing.T, fixed, htpasswd string) (*ecr.Client, *ecrlocal.Server) {
	t.Helper()
	dist, _ := testenv.Distribution(t, "AWS", htpasswd)
	registry := httptest.NewUnstartedServer(nil)
	s, err := ecrlocal.New(ecrlocal.Config{
		AccessKeyID:     "AKIDDIST",
		SecretAccessKey: "dist-secret",
		Region:          "us-east-1",
		RegistryURL:     "http://" + registry.Listener.Addr().String(),
		FixedPassword:   fixed,
	})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	registry.Config.Handler = s.Gate(dist)
	registry.Start()
	t.Cleanup(registry.Close)
	api := httptest.NewServer(s.Handler())
	t.Cleanup(api.Close)
	return newClient(api.URL, "us-east-1", "AKIDDIST", "dist-secret"), s
}

func TestDistributionChecksIssuedPassword(t *testing.T) {
	t.Parallel()
	const issued = "issued-fixed-password"
	c, _ := distributionEnv(t, issued, "what-the-registry-expects")
	password, host := login(t, c)
	if password != issued {
		t.Fatalf("GetAuthorizationToken() issued another password than the fixed one")
	}
	createRepository(t, c, "app", "")

	// The gate accepts the issued password; distribution itself refuses it, with its own realm.
	status, code, _, header := registryGet(t, host, "/v2/", "AWS", password)
	if status != http.StatusUnauthorized || code != "UNAUTHORIZED" {
		t.Errorf("GET /v2/ = %d %s, want 401 UNAUTHORIZED from distribution", status, code)
	}
	if got := header.Get("WWW-Authenticate"); !strings.Contains(got, `realm="testenv-distribution"`) {
		t.Errorf("WWW-Authenticate = %q, want distribution's realm", got)
	}
	if code, status := registryCode(push(t.Context(), host, "app", "v1", password, randomImage(t, 1))); status != http.StatusUnauthorized {
		t.Errorf("push = %d %s, want 401", status, code)
	}
}

func TestDistributionBehindGate(t *testing.T) {
	t.Parallel()
	const issued = "issued-fixed-password"
	c, _ := distributionEnv(t, issued, issued)
	password, host := login(t, c)
	createRepository(t, c, "team/app", "")

	if code, _ := registryCode(push(t.Context(), host, "team/other", "v1", password, randomImage(t, 1))); code != "NAME_UNKNOWN" {
		t.Errorf("push to an uncreated repository: code %q, want NAME_UNKNOWN", code)
	}
	img := randomImage(t, 3)
	digest := mustPush(t, host, "team/app", "v1", password, img)

	out, err := c.DescribeImages(t.Context(), &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	if err != nil {
		t.Fatalf("DescribeImages() error = %v", err)
	}
	d := out.ImageDetails[0]
	if got, want := aws.ToString(d.ImageDigest), digest.String(); got != want {
		t.Errorf("digest = %s, want %s", got, want)
	}
	if got, want := aws.ToInt64(d.ImageSizeInBytes), layerBytes(t, img); got != want {
		t.Errorf("imageSizeInBytes = %d, want %d", got, want)
	}

	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutImage(t.Context(), &ecr.PutImageInput{RepositoryName: aws.String("team/app"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("release")}); err != nil {
		t.Fatalf("PutImage(re-tag) error = %v", err)
	}
	_, err = c.PutImage(t.Context(), &ecr.PutImageInput{RepositoryName: aws.String("team/app"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("release")})
	var exists *types.ImageAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Errorf("PutImage(again) error = %v, want ImageAlreadyExistsException", err)
	}
	got, err := c.BatchGetImage(t.Context(), &ecr.BatchGetImageInput{RepositoryName: aws.String("team/app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("release")}}})
	if err != nil {
		t.Fatalf("BatchGetImage() error = %v", err)
	}
	if diff := cmp.Diff(string(raw), aws.ToString(got.Images[0].ImageManifest)); diff != "" {
		t.Errorf("BatchGetImage() manifest mismatch (-want +got):\n%s", diff)
	}

	del, err := c.BatchDeleteImage(t.Context(), &ecr.BatchDeleteImageInput{RepositoryName: aws.String("team/app"), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(digest.String())}}})
	if err != nil {
		t.Fatalf("BatchDeleteImage() error = %v", err)
	}
	if got, want := len(del.ImageIds), 2; got != want || len(del.Failures) != 0 {
		t.Errorf("BatchDeleteImage() deleted %d ids with failures %+v, want %d and none", got, del.Failures, want)
	}
	list, err := c.ListImages(t.Context(), &ecr.ListImagesInput{RepositoryName: aws.String("team/app")})
	if err != nil {
		t.Fatalf("ListImages() error = %v", err)
	}
	if got := len(list.ImageIds); got != 0 {
		t.Errorf("ListImages() after delete = %d ids, want 0", got)
	}
}
