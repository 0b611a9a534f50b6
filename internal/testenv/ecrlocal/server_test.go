package ecrlocal_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/testenv/ecrlocal"
)

func TestGetAuthorizationToken(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := start(t, ecrlocal.Config{Now: clock.Now, TokenTTL: time.Hour})
	c := clientFor(l)

	out, err := c.GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatalf("GetAuthorizationToken() error = %v", err)
	}
	if got, want := len(out.AuthorizationData), 1; got != want {
		t.Fatalf("len(AuthorizationData) = %d, want %d", got, want)
	}
	data := out.AuthorizationData[0]
	if got, want := aws.ToString(data.ProxyEndpoint), "http://"+l.Registry; got != want {
		t.Errorf("ProxyEndpoint = %q, want %q", got, want)
	}
	if got, want := aws.ToTime(data.ExpiresAt), clock.Now().Add(time.Hour); !got.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", got, want)
	}
	first, _ := login(t, c)
	second, _ := login(t, c)
	if first == second || len(first) < 32 {
		t.Errorf("passwords are not fresh random tokens: %d and %d characters, equal %t", len(first), len(second), first == second)
	}

	// ECR still takes registryIds (deprecated in the SDK): the endpoint must answer it as ECR does.
	//lint:ignore SA1019 the endpoint must handle what older clients send
	_, err = c.GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{RegistryIds: []string{"999999999999"}})
	var invalid *types.InvalidParameterException
	if !errors.As(err, &invalid) {
		t.Errorf("GetAuthorizationToken(other registry) error = %v, want InvalidParameterException", err)
	}
}

func TestCreateRepository(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := start(t, ecrlocal.Config{Now: clock.Now, RegistryID: "210987654321", Region: "eu-west-1"})
	c := clientFor(l)

	out, err := c.CreateRepository(t.Context(), &ecr.CreateRepositoryInput{
		RepositoryName:             aws.String("team/app"),
		ImageTagMutability:         types.ImageTagMutabilityImmutable,
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true},
	})
	if err != nil {
		t.Fatalf("CreateRepository() error = %v", err)
	}
	r := out.Repository
	got := map[string]any{
		"arn": aws.ToString(r.RepositoryArn), "registry": aws.ToString(r.RegistryId), "name": aws.ToString(r.RepositoryName),
		"uri": aws.ToString(r.RepositoryUri), "mutability": r.ImageTagMutability, "scan": r.ImageScanningConfiguration.ScanOnPush,
		"encryption": r.EncryptionConfiguration.EncryptionType, "created": aws.ToTime(r.CreatedAt).UnixMilli(),
	}
	want := map[string]any{
		"arn": "arn:aws:ecr:eu-west-1:210987654321:repository/team/app", "registry": "210987654321", "name": "team/app",
		"uri": l.Registry + "/team/app", "mutability": types.ImageTagMutabilityImmutable, "scan": true,
		"encryption": types.EncryptionTypeAes256, "created": clock.Now().UnixMilli(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreateRepository() repository mismatch (-want +got):\n%s", diff)
	}

	_, err = c.CreateRepository(t.Context(), &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	var exists *types.RepositoryAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Errorf("CreateRepository(again) error = %v, want RepositoryAlreadyExistsException", err)
	}

	for _, tc := range []struct {
		name  string
		input ecr.CreateRepositoryInput
	}{
		{name: "upper case", input: ecr.CreateRepositoryInput{RepositoryName: aws.String("Team/App")}},
		{name: "one character", input: ecr.CreateRepositoryInput{RepositoryName: aws.String("a")}},
		{name: "too long", input: ecr.CreateRepositoryInput{RepositoryName: aws.String(strings.Repeat("a", 257))}},
		{name: "double separator", input: ecr.CreateRepositoryInput{RepositoryName: aws.String("team//app")}},
		{name: "trailing dash", input: ecr.CreateRepositoryInput{RepositoryName: aws.String("app-")}},
		{name: "bad mutability", input: ecr.CreateRepositoryInput{RepositoryName: aws.String("ok"), ImageTagMutability: "SOMETIMES"}},
		{name: "filters without exclusion mode", input: ecr.CreateRepositoryInput{RepositoryName: aws.String("ok"),
			ImageTagMutability:                 types.ImageTagMutabilityImmutable,
			ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{{FilterType: "WILDCARD", Filter: aws.String("cache-*")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.CreateRepository(t.Context(), &tc.input)
			var invalid *types.InvalidParameterException
			if !errors.As(err, &invalid) {
				t.Errorf("CreateRepository() error = %v, want InvalidParameterException", err)
			}
		})
	}
}

func TestDescribeRepositories(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	c := clientFor(l)
	names := []string{"a/one", "a/two", "bb", "c.d", "e_f"}
	for _, n := range names {
		createRepository(t, c, n, "")
	}

	out, err := c.DescribeRepositories(t.Context(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"bb", "a/one"}})
	if err != nil {
		t.Fatalf("DescribeRepositories(names) error = %v", err)
	}
	var got []string
	for _, r := range out.Repositories {
		got = append(got, aws.ToString(r.RepositoryName))
	}
	if diff := cmp.Diff([]string{"bb", "a/one"}, got); diff != "" {
		t.Errorf("DescribeRepositories(names) mismatch (-want +got):\n%s", diff)
	}

	got = nil
	pages := 0
	p := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("DescribeRepositories page error = %v", err)
		}
		pages++
		for _, r := range page.Repositories {
			got = append(got, aws.ToString(r.RepositoryName))
		}
	}
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("DescribeRepositories pages mismatch (-want +got):\n%s", diff)
	}
	if got, want := pages, 3; got != want {
		t.Errorf("pages = %d, want %d", got, want)
	}

	for _, tc := range []struct {
		name  string
		input ecr.DescribeRepositoriesInput
		want  any
	}{
		{name: "missing repository", input: ecr.DescribeRepositoriesInput{RepositoryNames: []string{"bb", "nope"}}, want: new(*types.RepositoryNotFoundException)},
		{name: "other registry", input: ecr.DescribeRepositoriesInput{RegistryId: aws.String("999999999999"), RepositoryNames: []string{"bb"}}, want: new(*types.RepositoryNotFoundException)},
		{name: "bad token", input: ecr.DescribeRepositoriesInput{NextToken: aws.String("bm9wZQ")}, want: new(*types.InvalidParameterException)},
		{name: "page too large", input: ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(1001)}, want: new(*types.InvalidParameterException)},
		{name: "names with page size", input: ecr.DescribeRepositoriesInput{RepositoryNames: []string{"bb"}, MaxResults: aws.Int32(1)}, want: new(*types.InvalidParameterException)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.DescribeRepositories(t.Context(), &tc.input)
			if !errors.As(err, tc.want) {
				t.Errorf("DescribeRepositories() error = %v, want %T", err, tc.want)
			}
		})
	}
}

func TestDeleteRepository(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "app", "")
	mustPush(t, host, "app", "v1", password, randomImage(t, 1))

	_, err := c.DeleteRepository(t.Context(), &ecr.DeleteRepositoryInput{RepositoryName: aws.String("app")})
	var notEmpty *types.RepositoryNotEmptyException
	if !errors.As(err, &notEmpty) {
		t.Fatalf("DeleteRepository(not empty) error = %v, want RepositoryNotEmptyException", err)
	}
	out, err := c.DeleteRepository(t.Context(), &ecr.DeleteRepositoryInput{RepositoryName: aws.String("app"), Force: true})
	if err != nil {
		t.Fatalf("DeleteRepository(force) error = %v", err)
	}
	if got, want := aws.ToString(out.Repository.RepositoryName), "app"; got != want {
		t.Errorf("deleted repository = %q, want %q", got, want)
	}
	_, err = c.DescribeRepositories(t.Context(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"app"}})
	var notFound *types.RepositoryNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("DescribeRepositories(deleted) error = %v, want RepositoryNotFoundException", err)
	}
	_, err = c.DeleteRepository(t.Context(), &ecr.DeleteRepositoryInput{RepositoryName: aws.String("app")})
	if !errors.As(err, &notFound) {
		t.Errorf("DeleteRepository(deleted) error = %v, want RepositoryNotFoundException", err)
	}
	if code, _ := registryCode(push(t.Context(), host, "app", "v2", password, randomImage(t, 1))); code != "NAME_UNKNOWN" {
		t.Errorf("push to deleted repository: code %q, want NAME_UNKNOWN", code)
	}

	// A repository created again under the same name starts empty.
	createRepository(t, c, "app", "")
	images, err := c.DescribeImages(t.Context(), &ecr.DescribeImagesInput{RepositoryName: aws.String("app")})
	if err != nil {
		t.Fatalf("DescribeImages() error = %v", err)
	}
	if got := len(images.ImageDetails); got != 0 {
		t.Errorf("images in re-created repository = %d, want 0", got)
	}
}

func TestDescribeImages(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := start(t, ecrlocal.Config{Now: clock.Now})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "team/app", "")

	img := randomImage(t, 3)
	digest := mustPush(t, host, "team/app", "v1", password, img)
	mustPush(t, host, "team/app", "latest", password, img)
	config, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}

	out, err := c.DescribeImages(t.Context(), &ecr.DescribeImagesInput{
		RepositoryName: aws.String("team/app"),
		ImageIds:       []types.ImageIdentifier{{ImageTag: aws.String("v1")}},
	})
	if err != nil {
		t.Fatalf("DescribeImages() error = %v", err)
	}
	if got, want := len(out.ImageDetails), 1; got != want {
		t.Fatalf("len(ImageDetails) = %d, want %d", got, want)
	}
	d := out.ImageDetails[0]
	got := map[string]any{
		"registry": aws.ToString(d.RegistryId), "repository": aws.ToString(d.RepositoryName),
		"digest": aws.ToString(d.ImageDigest), "tags": d.ImageTags, "size": aws.ToInt64(d.ImageSizeInBytes),
		"pushed": aws.ToTime(d.ImagePushedAt).UnixMilli(), "manifestType": aws.ToString(d.ImageManifestMediaType),
		"artifactType": aws.ToString(d.ArtifactMediaType),
	}
	want := map[string]any{
		"registry": l.RegistryID, "repository": "team/app", "digest": digest.String(), "tags": []string{"latest", "v1"},
		"size": layerBytes(t, img), "pushed": clock.Now().UnixMilli(),
		"manifestType": "application/vnd.docker.distribution.manifest.v2+json", "artifactType": string(config.Config.MediaType),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DescribeImages() detail mismatch (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name  string
		input ecr.DescribeImagesInput
		want  any
	}{
		{name: "unknown tag", input: ecr.DescribeImagesInput{RepositoryName: aws.String("team/app"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("nope")}}}, want: new(*types.ImageNotFoundException)},
		{name: "unknown digest", input: ecr.DescribeImagesInput{RepositoryName: aws.String("team/app"), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String("sha256:" + strings.Repeat("0", 64))}}}, want: new(*types.ImageNotFoundException)},
		{name: "unknown repository", input: ecr.DescribeImagesInput{RepositoryName: aws.String("team/nope")}, want: new(*types.RepositoryNotFoundException)},
		{name: "ids with page size", input: ecr.DescribeImagesInput{RepositoryName: aws.String("team/app"), MaxResults: aws.Int32(1), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}}, want: new(*types.InvalidParameterException)},
		{name: "bad filter", input: ecr.DescribeImagesInput{RepositoryName: aws.String("team/app"), Filter: &types.DescribeImagesFilter{TagStatus: "SOME"}}, want: new(*types.InvalidParameterException)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.DescribeImages(t.Context(), &tc.input)
			if !errors.As(err, tc.want) {
				t.Errorf("DescribeImages() error = %v, want %T", err, tc.want)
			}
		})
	}
}

func TestDescribeImagesIndexSize(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "multi", "")
	small, big := randomImage(t, 1), randomImage(t, 4)
	smallDigest := mustPush(t, host, "multi", "", password, small)
	bigDigest := mustPush(t, host, "multi", "", password, big)
	index := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []map[string]any{
			{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": smallDigest.String(), "size": 1, "platform": map[string]string{"os": "linux", "architecture": "arm64"}},
			{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": bigDigest.String(), "size": 1, "platform": map[string]string{"os": "linux", "architecture": "amd64"}},
		},
	}
	raw, err := json.Marshal(index)
	if err != nil {
		t.Fatal(err)
	}
	put, err := c.PutImage(t.Context(), &ecr.PutImageInput{RepositoryName: aws.String("multi"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("v1")})
	if err != nil {
		t.Fatalf("PutImage(index) error = %v", err)
	}

	out, err := c.DescribeImages(t.Context(), &ecr.DescribeImagesInput{RepositoryName: aws.String("multi"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	if err != nil {
		t.Fatalf("DescribeImages() error = %v", err)
	}
	d := out.ImageDetails[0]
	if got, want := aws.ToString(d.ImageDigest), aws.ToString(put.Image.ImageId.ImageDigest); got != want {
		t.Errorf("index digest = %s, want %s", got, want)
	}
	// ECR: "If the image is a manifest list, this will be the max size of all manifests in the list."
	if got, want := aws.ToInt64(d.ImageSizeInBytes), max(layerBytes(t, small), layerBytes(t, big)); got != want {
		t.Errorf("index imageSizeInBytes = %d, want %d", got, want)
	}
	if got, want := aws.ToString(d.ArtifactMediaType), ""; got != want {
		t.Errorf("index artifactMediaType = %q, want %q", got, want)
	}

	// The index's images are untagged images of the repository, and cannot be deleted under it.
	untagged, err := c.DescribeImages(t.Context(), &ecr.DescribeImagesInput{RepositoryName: aws.String("multi"), Filter: &types.DescribeImagesFilter{TagStatus: types.TagStatusUntagged}})
	if err != nil {
		t.Fatalf("DescribeImages(untagged) error = %v", err)
	}
	if got, want := len(untagged.ImageDetails), 2; got != want {
		t.Errorf("untagged images = %d, want %d", got, want)
	}
	del, err := c.BatchDeleteImage(t.Context(), &ecr.BatchDeleteImageInput{RepositoryName: aws.String("multi"), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(smallDigest.String())}}})
	if err != nil {
		t.Fatalf("BatchDeleteImage() error = %v", err)
	}
	if len(del.Failures) != 1 || del.Failures[0].FailureCode != types.ImageFailureCodeImageReferencedByManifestList {
		t.Errorf("BatchDeleteImage(child of index) failures = %+v, want ImageReferencedByManifestList", del.Failures)
	}

	_, err = c.PutImage(t.Context(), &ecr.PutImageInput{RepositoryName: aws.String("multi"), ImageTag: aws.String("v2"),
		ImageManifest: aws.String(strings.Replace(string(raw), smallDigest.Hex, strings.Repeat("1", 64), 1))})
	var refs *types.ReferencedImagesNotFoundException
	if !errors.As(err, &refs) {
		t.Errorf("PutImage(index of missing image) error = %v, want ReferencedImagesNotFoundException", err)
	}
}

func TestListAndDescribeImagesPaging(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "paged", "")
	tagged := map[string]bool{}
	for _, tag := range []string{"a", "b", "c", "d", "e"} {
		tagged[mustPush(t, host, "paged", tag, password, randomImage(t, 1)).String()] = true
	}
	// Moving tag "e" leaves its old image untagged; an image pushed by digest is untagged too.
	mustPush(t, host, "paged", "e", password, randomImage(t, 1))
	mustPush(t, host, "paged", "", password, randomImage(t, 1))

	for _, tc := range []struct {
		name   string
		filter types.TagStatus
		want   int
	}{
		{name: "any", filter: types.TagStatusAny, want: 7},
		{name: "tagged", filter: types.TagStatusTagged, want: 5},
		{name: "untagged", filter: types.TagStatusUntagged, want: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			seen := map[string]bool{}
			p := ecr.NewDescribeImagesPaginator(c, &ecr.DescribeImagesInput{RepositoryName: aws.String("paged"), MaxResults: aws.Int32(2),
				Filter: &types.DescribeImagesFilter{TagStatus: tc.filter}})
			for p.HasMorePages() {
				page, err := p.NextPage(t.Context())
				if err != nil {
					t.Fatalf("DescribeImages page error = %v", err)
				}
				if len(page.ImageDetails) > 2 {
					t.Errorf("page of %d images, want at most 2", len(page.ImageDetails))
				}
				for _, d := range page.ImageDetails {
					if seen[aws.ToString(d.ImageDigest)] {
						t.Errorf("image %s listed twice", aws.ToString(d.ImageDigest))
					}
					seen[aws.ToString(d.ImageDigest)] = true
				}
			}
			if got := len(seen); got != tc.want {
				t.Errorf("DescribeImages(%s) found %d images, want %d", tc.filter, got, tc.want)
			}

			ids := 0
			lp := ecr.NewListImagesPaginator(c, &ecr.ListImagesInput{RepositoryName: aws.String("paged"), MaxResults: aws.Int32(3),
				Filter: &types.ListImagesFilter{TagStatus: tc.filter}})
			for lp.HasMorePages() {
				page, err := lp.NextPage(t.Context())
				if err != nil {
					t.Fatalf("ListImages page error = %v", err)
				}
				ids += len(page.ImageIds)
			}
			if got := ids; got != tc.want {
				t.Errorf("ListImages(%s) listed %d ids, want %d", tc.filter, got, tc.want)
			}
		})
	}
}

func TestBatchGetImage(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "app", "")
	img := randomImage(t, 2)
	digest := mustPush(t, host, "app", "v1", password, img)
	other := mustPush(t, host, "app", "v2", password, randomImage(t, 1))
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}

	out, err := c.BatchGetImage(t.Context(), &ecr.BatchGetImageInput{
		RepositoryName: aws.String("app"),
		ImageIds: []types.ImageIdentifier{
			{ImageTag: aws.String("v1")},
			{ImageDigest: aws.String(digest.String())},
			{ImageTag: aws.String("nope")},
			{ImageTag: aws.String("v1"), ImageDigest: aws.String(other.String())},
			{},
			{ImageDigest: aws.String("sha256:zz")},
		},
		AcceptedMediaTypes: []string{"application/vnd.docker.distribution.manifest.v2+json"},
	})
	if err != nil {
		t.Fatalf("BatchGetImage() error = %v", err)
	}
	if got, want := len(out.Images), 2; got != want {
		t.Fatalf("len(Images) = %d, want %d", got, want)
	}
	for _, im := range out.Images {
		if got, want := aws.ToString(im.ImageManifest), string(raw); got != want {
			t.Errorf("ImageManifest differs from the pushed bytes:\n got %s\nwant %s", got, want)
		}
		if got, want := aws.ToString(im.ImageId.ImageDigest), digest.String(); got != want {
			t.Errorf("ImageId.ImageDigest = %s, want %s", got, want)
		}
		if got, want := aws.ToString(im.ImageManifestMediaType), "application/vnd.docker.distribution.manifest.v2+json"; got != want {
			t.Errorf("ImageManifestMediaType = %q, want %q", got, want)
		}
	}
	var codes []types.ImageFailureCode
	for _, f := range out.Failures {
		codes = append(codes, f.FailureCode)
	}
	want := []types.ImageFailureCode{
		types.ImageFailureCodeImageNotFound, types.ImageFailureCodeImageTagDoesNotMatchDigest,
		types.ImageFailureCodeMissingDigestAndTag, types.ImageFailureCodeInvalidImageDigest,
	}
	if diff := cmp.Diff(want, codes); diff != "" {
		t.Errorf("failure codes mismatch (-want +got):\n%s", diff)
	}

	out, err = c.BatchGetImage(t.Context(), &ecr.BatchGetImageInput{RepositoryName: aws.String("app"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}, AcceptedMediaTypes: []string{"application/vnd.oci.image.manifest.v1+json"}})
	if err != nil {
		t.Fatalf("BatchGetImage(oci only) error = %v", err)
	}
	if len(out.Images) != 0 || len(out.Failures) != 1 {
		t.Errorf("BatchGetImage(oci only) = %d images, %d failures; want 0, 1", len(out.Images), len(out.Failures))
	}
	_, err = c.BatchGetImage(t.Context(), &ecr.BatchGetImageInput{RepositoryName: aws.String("nope"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	var notFound *types.RepositoryNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("BatchGetImage(unknown repository) error = %v, want RepositoryNotFoundException", err)
	}
}

func TestPutImage(t *testing.T) {
	t.Parallel()
	var counter requestCounter
	l := start(t, ecrlocal.Config{}, ecrlocal.WrapRegistry(counter.wrap))
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "mutable", types.ImageTagMutabilityMutable)
	createRepository(t, c, "immutable", types.ImageTagMutabilityImmutable)
	img, other := randomImage(t, 2), randomImage(t, 2)
	for _, repo := range []string{"mutable", "immutable"} {
		mustPush(t, host, repo, "v1", password, img)
		mustPush(t, host, repo, "other", password, other)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	otherRaw, err := other.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	// Re-tag: a new tag on an existing manifest moves no blob.
	counter.reset()
	out, err := c.PutImage(t.Context(), &ecr.PutImageInput{RepositoryName: aws.String("mutable"), ImageManifest: aws.String(string(raw)),
		ImageTag: aws.String("release"), ImageDigest: aws.String(digest.String())})
	if err != nil {
		t.Fatalf("PutImage(re-tag) error = %v", err)
	}
	if got, want := aws.ToString(out.Image.ImageId.ImageDigest), digest.String(); got != want {
		t.Errorf("PutImage() digest = %s, want %s", got, want)
	}
	for _, key := range []string{"POST blobs", "PATCH blobs", "PUT blobs"} {
		if got := counter.get(key); got != 0 {
			t.Errorf("re-tag sent %d %s requests, want 0", got, key)
		}
	}
	if got, want := counter.get("PUT manifests"), 1; got != want {
		t.Errorf("re-tag sent %d manifest PUTs, want %d", got, want)
	}
	desc, err := c.DescribeImages(t.Context(), &ecr.DescribeImagesInput{RepositoryName: aws.String("mutable"), ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(digest.String())}}})
	if err != nil {
		t.Fatalf("DescribeImages() error = %v", err)
	}
	if diff := cmp.Diff([]string{"release", "v1"}, desc.ImageDetails[0].ImageTags); diff != "" {
		t.Errorf("tags after re-tag mismatch (-want +got):\n%s", diff)
	}

	// An immutable repository takes a new tag; a mutable one moves a tag.
	if _, err := c.PutImage(t.Context(), &ecr.PutImageInput{RepositoryName: aws.String("immutable"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("v1.0.0")}); err != nil {
		t.Errorf("PutImage(immutable, new tag) error = %v", err)
	}
	if _, err := c.PutImage(t.Context(), &ecr.PutImageInput{RepositoryName: aws.String("mutable"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("other")}); err != nil {
		t.Errorf("PutImage(mutable, move tag) error = %v", err)
	}

	for _, tc := range []struct {
		name  string
		input ecr.PutImageInput
		want  any
	}{
		{name: "same tag same manifest", input: ecr.PutImageInput{RepositoryName: aws.String("mutable"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("v1")},
			want: new(*types.ImageAlreadyExistsException)},
		{name: "no tag existing manifest", input: ecr.PutImageInput{RepositoryName: aws.String("mutable"), ImageManifest: aws.String(string(raw))},
			want: new(*types.ImageAlreadyExistsException)},
		{name: "immutable tag elsewhere", input: ecr.PutImageInput{RepositoryName: aws.String("immutable"), ImageManifest: aws.String(string(otherRaw)), ImageTag: aws.String("v1")},
			want: new(*types.ImageTagAlreadyExistsException)},
		{name: "immutable tag same manifest", input: ecr.PutImageInput{RepositoryName: aws.String("immutable"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("v1")},
			want: new(*types.ImageTagAlreadyExistsException)},
		{name: "digest mismatch", input: ecr.PutImageInput{RepositoryName: aws.String("mutable"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("x"), ImageDigest: aws.String("sha256:" + strings.Repeat("a", 64))},
			want: new(*types.ImageDigestDoesNotMatchException)},
		{name: "missing layers", input: ecr.PutImageInput{RepositoryName: aws.String("mutable"), ImageTag: aws.String("x"),
			ImageManifest: aws.String(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("b", 64) + `","size":2},"layers":[]}`)},
			want: new(*types.LayersNotFoundException)},
		{name: "not json", input: ecr.PutImageInput{RepositoryName: aws.String("mutable"), ImageManifest: aws.String("{"), ImageTag: aws.String("x")},
			want: new(*types.InvalidParameterException)},
		{name: "no media type", input: ecr.PutImageInput{RepositoryName: aws.String("mutable"), ImageManifest: aws.String(`{"schemaVersion":2}`), ImageTag: aws.String("x")},
			want: new(*types.InvalidParameterException)},
		{name: "media type mismatch", input: ecr.PutImageInput{RepositoryName: aws.String("mutable"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("x"),
			ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json")}, want: new(*types.InvalidParameterException)},
		{name: "bad tag", input: ecr.PutImageInput{RepositoryName: aws.String("mutable"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("-bad")},
			want: new(*types.InvalidParameterException)},
		{name: "unknown repository", input: ecr.PutImageInput{RepositoryName: aws.String("nope"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("x")},
			want: new(*types.RepositoryNotFoundException)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.PutImage(t.Context(), &tc.input)
			if !errors.As(err, tc.want) {
				t.Errorf("PutImage() error = %v, want %T", err, tc.want)
			}
		})
	}

}

func TestBatchDeleteImage(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "app", "")
	shared := randomImage(t, 1)
	sharedDigest := mustPush(t, host, "app", "a", password, shared)
	mustPush(t, host, "app", "b", password, shared)
	lone := mustPush(t, host, "app", "c", password, randomImage(t, 1))
	byDigest := mustPush(t, host, "app", "d", password, randomImage(t, 1))
	mustPush(t, host, "app", "e", password, randomImage(t, 1)) // stays

	out, err := c.BatchDeleteImage(t.Context(), &ecr.BatchDeleteImageInput{
		RepositoryName: aws.String("app"),
		ImageIds: []types.ImageIdentifier{
			{ImageTag: aws.String("a")},
			{ImageTag: aws.String("c")},
			{ImageDigest: aws.String(byDigest.String())},
			{ImageTag: aws.String("nope")},
		},
	})
	if err != nil {
		t.Fatalf("BatchDeleteImage() error = %v", err)
	}
	type id struct{ Digest, Tag string }
	var deleted []id
	for _, d := range out.ImageIds {
		deleted = append(deleted, id{aws.ToString(d.ImageDigest), aws.ToString(d.ImageTag)})
	}
	want := []id{{sharedDigest.String(), "a"}, {lone.String(), "c"}, {byDigest.String(), "d"}}
	if diff := cmp.Diff(want, deleted); diff != "" {
		t.Errorf("deleted ids mismatch (-want +got):\n%s", diff)
	}
	if len(out.Failures) != 1 || out.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
		t.Errorf("failures = %+v, want one ImageNotFound", out.Failures)
	}

	list, err := c.ListImages(t.Context(), &ecr.ListImagesInput{RepositoryName: aws.String("app")})
	if err != nil {
		t.Fatalf("ListImages() error = %v", err)
	}
	var tags []string
	for _, d := range list.ImageIds {
		tags = append(tags, aws.ToString(d.ImageTag))
	}
	// "b" keeps the shared image; "c" was its image's last tag, so that image is gone, as in ECR.
	if diff := cmp.Diff([]string{"b", "e"}, sortedCopy(tags)); diff != "" {
		t.Errorf("remaining tags mismatch (-want +got):\n%s", diff)
	}
	if got, want := len(list.ImageIds), 2; got != want {
		t.Errorf("remaining image ids = %d, want %d (no untagged leftovers)", got, want)
	}
}

func TestLifecyclePolicy(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	c := clientFor(l)
	createRepository(t, c, "app", "")
	policy := `{"rules":[{"rulePriority":1,"description":"expire cache tags","selection":{"tagStatus":"tagged","tagPatternList":["cache-*"],"countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}},` +
		`{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":1},"action":{"type":"expire"}}]}`

	_, err := c.GetLifecyclePolicy(t.Context(), &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("app")})
	var notFound *types.LifecyclePolicyNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("GetLifecyclePolicy(none) error = %v, want LifecyclePolicyNotFoundException", err)
	}
	if _, err := c.PutLifecyclePolicy(t.Context(), &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("app"), LifecyclePolicyText: aws.String(policy)}); err != nil {
		t.Fatalf("PutLifecyclePolicy() error = %v", err)
	}
	got, err := c.GetLifecyclePolicy(t.Context(), &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("app")})
	if err != nil {
		t.Fatalf("GetLifecyclePolicy() error = %v", err)
	}
	if got, want := aws.ToString(got.LifecyclePolicyText), policy; got != want {
		t.Errorf("GetLifecyclePolicy() text = %s, want %s", got, want)
	}
	if _, err := c.DeleteLifecyclePolicy(t.Context(), &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String("app")}); err != nil {
		t.Fatalf("DeleteLifecyclePolicy() error = %v", err)
	}
	_, err = c.DeleteLifecyclePolicy(t.Context(), &ecr.DeleteLifecyclePolicyInput{RepositoryName: aws.String("app")})
	if !errors.As(err, &notFound) {
		t.Errorf("DeleteLifecyclePolicy(none) error = %v, want LifecyclePolicyNotFoundException", err)
	}

	_, err = c.PutLifecyclePolicy(t.Context(), &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("app"),
		LifecyclePolicyText: aws.String(`{"rules":[{"rulePriority":1,"selection":{"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}`)})
	var invalid *types.InvalidParameterException
	if !errors.As(err, &invalid) {
		t.Fatalf("PutLifecyclePolicy(tagged without list) error = %v, want InvalidParameterException", err)
	}
	if msg := aws.ToString(invalid.Message); !strings.Contains(msg, "rules[0].selection") || !strings.Contains(msg, "tagPrefixList") {
		t.Errorf("InvalidParameterException message %q does not name the rule and the missing list", msg)
	}
	_, err = c.PutLifecyclePolicy(t.Context(), &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("nope"), LifecyclePolicyText: aws.String(policy)})
	var repoNotFound *types.RepositoryNotFoundException
	if !errors.As(err, &repoNotFound) {
		t.Errorf("PutLifecyclePolicy(unknown repository) error = %v, want RepositoryNotFoundException", err)
	}
}

func TestRepositorySettings(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "app", "")

	mut, err := c.PutImageTagMutability(t.Context(), &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("app"),
		ImageTagMutability:                 types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{{FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard, Filter: aws.String("cache-*")}}})
	if err != nil {
		t.Fatalf("PutImageTagMutability() error = %v", err)
	}
	if got, want := mut.ImageTagMutability, types.ImageTagMutabilityImmutableWithExclusion; got != want {
		t.Errorf("ImageTagMutability = %s, want %s", got, want)
	}
	scan, err := c.PutImageScanningConfiguration(t.Context(), &ecr.PutImageScanningConfigurationInput{RepositoryName: aws.String("app"),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true}})
	if err != nil {
		t.Fatalf("PutImageScanningConfiguration() error = %v", err)
	}
	if !scan.ImageScanningConfiguration.ScanOnPush {
		t.Errorf("ScanOnPush = false, want true")
	}
	out, err := c.DescribeRepositories(t.Context(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"app"}})
	if err != nil {
		t.Fatalf("DescribeRepositories() error = %v", err)
	}
	if r := out.Repositories[0]; r.ImageTagMutability != types.ImageTagMutabilityImmutableWithExclusion || !r.ImageScanningConfiguration.ScanOnPush {
		t.Errorf("repository settings = %s, scanOnPush %t; want IMMUTABLE_WITH_EXCLUSION, true", r.ImageTagMutability, r.ImageScanningConfiguration.ScanOnPush)
	}

	// cache-* tags stay mutable, every other tag is immutable.
	mustPush(t, host, "app", "cache-main", password, randomImage(t, 1))
	mustPush(t, host, "app", "cache-main", password, randomImage(t, 1))
	mustPush(t, host, "app", "v1", password, randomImage(t, 1))
	if code, status := registryCode(push(t.Context(), host, "app", "v1", password, randomImage(t, 1))); code != "TAG_INVALID" || status != http.StatusBadRequest {
		t.Errorf("re-push of immutable v1: %d %s, want 400 TAG_INVALID", status, code)
	}
	_, err = c.PutImageTagMutability(t.Context(), &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String("nope"), ImageTagMutability: types.ImageTagMutabilityMutable})
	var notFound *types.RepositoryNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("PutImageTagMutability(unknown repository) error = %v, want RepositoryNotFoundException", err)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{AccessKeyID: "AKIDLOCAL", SecretAccessKey: "local-secret-value", Region: "us-west-2"})
	createRepository(t, clientFor(l), "app", "")

	for _, tc := range []struct {
		name                  string
		region, keyID, secret string
		want                  string
	}{
		{name: "right credentials", region: "us-west-2", keyID: "AKIDLOCAL", secret: "local-secret-value"},
		{name: "wrong secret", region: "us-west-2", keyID: "AKIDLOCAL", secret: "not-the-secret", want: "InvalidSignatureException"},
		{name: "unknown key id", region: "us-west-2", keyID: "AKIDOTHER", secret: "local-secret-value", want: "UnrecognizedClientException"},
		{name: "wrong region", region: "eu-central-1", keyID: "AKIDLOCAL", secret: "local-secret-value", want: "InvalidSignatureException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(l.Endpoint, tc.region, tc.keyID, tc.secret)
			_, err := c.DescribeRepositories(t.Context(), &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"app"}})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("DescribeRepositories() error = %v", err)
				}
				return
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("DescribeRepositories() error = %v, want an API error", err)
			}
			if got := apiErr.ErrorCode(); got != tc.want {
				t.Errorf("error code = %q, want %q", got, tc.want)
			}
			if strings.Contains(err.Error(), "local-secret-value") {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func TestClockSkewIsCorrectedBySDK(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	clock.Add(2 * time.Hour)
	l := start(t, ecrlocal.Config{Now: clock.Now})
	// The SDK signs with its own clock, two hours behind: the endpoint refuses the signature as AWS
	// does, answers with its Date, and the SDK retries with the corrected time.
	if _, err := clientFor(l).GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{}); err != nil {
		t.Fatalf("GetAuthorizationToken() with a skewed clock error = %v", err)
	}
}

// signedRequest sends body to the endpoint with the given target, signed like the SDK would.
func signedRequest(t *testing.T, l *ecrlocal.Local, target, body string) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, l.Endpoint+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: l.AccessKeyID, SecretAccessKey: l.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "ecr", l.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) (int, map[string]string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	if out != nil && resp.Header.Get("X-Amzn-ErrorType") != out["__type"] {
		t.Errorf("X-Amzn-ErrorType %q differs from __type %q", resp.Header.Get("X-Amzn-ErrorType"), out["__type"])
	}
	return resp.StatusCode, out
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	for _, tc := range []struct {
		name       string
		target     string
		body       string
		wantStatus int
		wantType   string
	}{
		{name: "unknown operation", target: "AmazonEC2ContainerRegistry_V20150921.StartImageScan", body: "{}", wantStatus: 400, wantType: "UnknownOperationException"},
		{name: "wrong service", target: "DynamoDB_20120810.ListTables", body: "{}", wantStatus: 400, wantType: "UnknownOperationException"},
		{name: "bad json", target: "AmazonEC2ContainerRegistry_V20150921.CreateRepository", body: "{", wantStatus: 400, wantType: "InvalidParameterException"},
		{name: "wrong field type", target: "AmazonEC2ContainerRegistry_V20150921.CreateRepository", body: `{"repositoryName":1}`, wantStatus: 400, wantType: "InvalidParameterException"},
		{name: "missing required field", target: "AmazonEC2ContainerRegistry_V20150921.CreateRepository", body: "{}", wantStatus: 400, wantType: "InvalidParameterException"},
		{name: "empty body", target: "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken", body: "", wantStatus: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, body := signedRequest(t, l, tc.target, tc.body)
			if status != tc.wantStatus {
				t.Errorf("status = %d, want %d (body %v)", status, tc.wantStatus, body)
			}
			if got := body["__type"]; got != tc.wantType {
				t.Errorf("__type = %q, want %q", got, tc.wantType)
			}
		})
	}

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, l.Endpoint+"/", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
	if status, body := send(t, req); status != http.StatusForbidden || body["__type"] != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned request: %d %v, want 403 MissingAuthenticationTokenException", status, body)
	}
}

func TestTimestampsAreEpochSeconds(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := start(t, ecrlocal.Config{Now: clock.Now})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, l.Endpoint+"/", strings.NewReader(`{"repositoryName":"app"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.CreateRepository")
	sum := sha256.Sum256([]byte(`{"repositoryName":"app"}`))
	creds := aws.Credentials{AccessKeyID: l.AccessKeyID, SecretAccessKey: l.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), "ecr", l.Region, clock.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Repository struct {
			CreatedAt json.Number `json:"createdAt"`
		} `json:"repository"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	secs, err := out.Repository.CreatedAt.Float64()
	if err != nil {
		t.Fatalf("createdAt %q is not a number: %v", out.Repository.CreatedAt, err)
	}
	if got, want := time.UnixMilli(int64(secs*1000+0.5)), clock.Now(); !got.Equal(want) {
		t.Errorf("createdAt = %v, want %v", got, want)
	}
}

func TestLogsNeverHoldSecrets(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	l := start(t, ecrlocal.Config{SecretAccessKey: "super-secret-key", Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "app", "")
	mustPush(t, host, "app", "v1", password, randomImage(t, 1))
	_ = push(t.Context(), host, "app", "v1", "wrong-password", randomImage(t, 1))
	_, _ = newClient(l.Endpoint, l.Region, l.AccessKeyID, "bad").ListImages(t.Context(), &ecr.ListImagesInput{RepositoryName: aws.String("app")})

	text := logs.String()
	if !strings.Contains(text, "registry request") || !strings.Contains(text, "ecr request") {
		t.Fatalf("expected debug lines, got:\n%s", text)
	}
	for _, secret := range []string{password, "super-secret-key", "wrong-password"} {
		if strings.Contains(text, secret) {
			t.Errorf("log holds a secret:\n%s", text)
		}
	}
}

// lockedBuffer is a log sink safe for the servers' goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestUnreachableRegistryIsServerException(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := ecrlocal.New(ecrlocal.Config{AccessKeyID: "AKID", SecretAccessKey: "secret", Region: "us-east-1", RegistryURL: "http://" + addr})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	api := httptest.NewServer(s.Handler())
	defer api.Close()
	c := newClient(api.URL, "us-east-1", "AKID", "secret")
	createRepository(t, c, "app", "")

	_, err = c.DescribeImages(t.Context(), &ecr.DescribeImagesInput{RepositoryName: aws.String("app")}, func(o *ecr.Options) { o.RetryMaxAttempts = 1 })
	var serverErr *types.ServerException
	if !errors.As(err, &serverErr) {
		t.Fatalf("DescribeImages() error = %v, want ServerException", err)
	}
	var respErr *awshttp.ResponseError
	if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != http.StatusInternalServerError {
		t.Errorf("DescribeImages() error = %v, want HTTP 500", err)
	}
	if strings.Contains(err.Error(), addr) {
		t.Errorf("ServerException %q exposes the endpoint's internals", err)
	}
}
