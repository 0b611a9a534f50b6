package ecr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/registry"
)

// API is the part of the ECR client the action uses, with the SDK's own
// signatures.
type API interface {
	GetAuthorizationToken(ctx context.Context, params *ecr.GetAuthorizationTokenInput, optFns ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error)
	DescribeRepositories(ctx context.Context, params *ecr.DescribeRepositoriesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error)
	CreateRepository(ctx context.Context, params *ecr.CreateRepositoryInput, optFns ...func(*ecr.Options)) (*ecr.CreateRepositoryOutput, error)
	DescribeImages(ctx context.Context, params *ecr.DescribeImagesInput, optFns ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
	BatchGetImage(ctx context.Context, params *ecr.BatchGetImageInput, optFns ...func(*ecr.Options)) (*ecr.BatchGetImageOutput, error)
	PutImage(ctx context.Context, params *ecr.PutImageInput, optFns ...func(*ecr.Options)) (*ecr.PutImageOutput, error)
	BatchDeleteImage(ctx context.Context, params *ecr.BatchDeleteImageInput, optFns ...func(*ecr.Options)) (*ecr.BatchDeleteImageOutput, error)
	PutLifecyclePolicy(ctx context.Context, params *ecr.PutLifecyclePolicyInput, optFns ...func(*ecr.Options)) (*ecr.PutLifecyclePolicyOutput, error)
}

var _ API = (*ecr.Client)(nil)

// Registry is one repository of an ECR registry (an account in a region):
// the run's Publisher on AWS.
type Registry struct {
	api  API
	id   *string // nil: the caller's account
	repo string

	// HTTP reads blobs from the registry; nil is a client with a timeout.
	HTTP *http.Client

	mu   sync.Mutex
	last registry.Login // the last login, which Blob reads with
}

// New returns a Registry for the repository over the API. registryID is the
// account that owns the registry, "" for the caller's own.
func New(api API, registryID, repository string) *Registry {
	r := &Registry{api: api, repo: repository}
	if registryID != "" {
		r.id = aws.String(registryID)
	}
	return r
}

// Login gets a registry password (valid 12 hours); the host comes from
// proxyEndpoint with the scheme stripped. The password appears in no error.
func (r *Registry) Login(ctx context.Context) (registry.Login, error) {
	var none registry.Login
	out, err := r.api.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return none, fmt.Errorf("getting an ECR authorization token: %w", err)
	}
	if len(out.AuthorizationData) == 0 {
		return none, errors.New("getting an ECR authorization token: the answer holds no authorization data")
	}
	d := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(d.AuthorizationToken))
	if err != nil {
		return none, errors.New("getting an ECR authorization token: the token is not base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return none, errors.New("getting an ECR authorization token: the token is not user:password")
	}
	host := aws.ToString(d.ProxyEndpoint)
	host = strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	host = strings.TrimSuffix(host, "/")
	// The token opens every registry the caller may use; the host names the
	// caller's own. Another account's registry is the same host with its id.
	if r.id != nil {
		host = accountHost.ReplaceAllString(host, *r.id+".$1")
	}
	if host == "" {
		return none, errors.New("getting an ECR authorization token: the answer names no registry (proxyEndpoint)")
	}
	l := registry.Login{Auth: build.Auth{Host: host, Username: user, Password: pass}, ExpiresAt: aws.ToTime(d.ExpiresAt)}
	r.mu.Lock()
	r.last = l
	r.mu.Unlock()
	return l, nil
}

// accountHost matches an ECR registry host: the account id, then the rest.
var accountHost = regexp.MustCompile(`^[0-9]{12}\.(dkr\.ecr\..+)$`)

// Repository finds the repository, creating it (scan on push on) when it is
// missing and create is true.
func (r *Registry) Repository(ctx context.Context, create bool) (registry.Repository, error) {
	name := r.repo
	out, err := r.api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: r.id, RepositoryNames: []string{name}})
	var nf *types.RepositoryNotFoundException
	switch {
	case err == nil && len(out.Repositories) > 0:
		rp := out.Repositories[0]
		return repository(rp.ImageTagMutability, rp.ImageTagMutabilityExclusionFilters, false), nil
	case err != nil && !errors.As(err, &nf):
		return registry.Repository{}, fmt.Errorf("looking up repository %s: %w", name, err)
	case !create:
		return registry.Repository{}, fmt.Errorf("repository %s does not exist%s and create-repository is false: create it or set create-repository: true: %w", name, r.inAccount(), registry.ErrRepositoryMissing)
	}
	cout, err := r.api.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RegistryId:                         r.id,
		RepositoryName:                     aws.String(name),
		ImageScanningConfiguration:         &types.ImageScanningConfiguration{ScanOnPush: true},
		ImageTagMutability:                 types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: exclusionFilters(),
	})
	var exists *types.RepositoryAlreadyExistsException
	switch {
	case errors.As(err, &exists): // another run created it meanwhile
		return r.Repository(ctx, false)
	case err != nil:
		return registry.Repository{}, fmt.Errorf("creating repository %s: %w", name, err)
	}
	return repository(cout.Repository.ImageTagMutability, cout.Repository.ImageTagMutabilityExclusionFilters, true), nil
}

// MutableTags are the tags that stay movable in a repository the action
// creates (IMMUTABLE_WITH_EXCLUSION): latest, the build caches and the
// action's own records and staging tags. Every other tag, once set, names
// one image for good.
var MutableTags = []string{"latest", cache.CacheTagPrefix + "*", cache.SkipTagPrefix + "*", cache.StagingTagPrefix + "*"}

func exclusionFilters() []types.ImageTagMutabilityExclusionFilter {
	fs := make([]types.ImageTagMutabilityExclusionFilter, len(MutableTags))
	for i, t := range MutableTags {
		fs[i] = types.ImageTagMutabilityExclusionFilter{Filter: aws.String(t), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}
	}
	return fs
}

// repository reads a repository's mutability settings: IMMUTABLE and
// IMMUTABLE_WITH_EXCLUSION are immutable, and the exclusions of either
// *_WITH_EXCLUSION mode are the tags that the mode does not hold for.
func repository(m types.ImageTagMutability, filters []types.ImageTagMutabilityExclusionFilter, created bool) registry.Repository {
	rp := registry.Repository{Created: created, Immutable: strings.HasPrefix(string(m), string(types.ImageTagMutabilityImmutable))}
	if strings.HasSuffix(string(m), "_WITH_EXCLUSION") {
		for _, f := range filters {
			if f.FilterType == types.ImageTagMutabilityExclusionFilterTypeWildcard && aws.ToString(f.Filter) != "" {
				rp.Exclusions = append(rp.Exclusions, aws.ToString(f.Filter))
			}
		}
	}
	return rp
}

func (r *Registry) inAccount() string {
	if r.id == nil {
		return ""
	}
	return " in registry " + *r.id
}

// Describe returns the image with the given digest or tag ("sha256:..." is
// a digest).
func (r *Registry) Describe(ctx context.Context, ref string) (registry.Image, error) {
	repo := r.repo
	out, err := r.api.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RegistryId:     r.id,
		RepositoryName: aws.String(repo),
		ImageIds:       []types.ImageIdentifier{imageID(ref)},
	})
	var nf *types.ImageNotFoundException
	var nr *types.RepositoryNotFoundException
	switch {
	case errors.As(err, &nf):
		return registry.Image{}, fmt.Errorf("describing %s:%s: %w", repo, ref, registry.ErrNotFound)
	case errors.As(err, &nr):
		// A repository this run is creating beside its build holds nothing
		// yet: no image has ref.
		return registry.Image{}, fmt.Errorf("describing %s:%s: the repository does not exist yet: %w", repo, ref, registry.ErrNotFound)
	case err != nil:
		return registry.Image{}, fmt.Errorf("describing %s:%s: %w", repo, ref, err)
	case len(out.ImageDetails) == 0:
		return registry.Image{}, fmt.Errorf("describing %s:%s: %w", repo, ref, registry.ErrNotFound)
	}
	d := out.ImageDetails[0]
	return registry.Image{Digest: aws.ToString(d.ImageDigest), SizeBytes: aws.ToInt64(d.ImageSizeInBytes)}, nil
}

func imageID(ref string) types.ImageIdentifier {
	if strings.HasPrefix(ref, "sha256:") {
		return types.ImageIdentifier{ImageDigest: aws.String(ref)}
	}
	return types.ImageIdentifier{ImageTag: aws.String(ref)}
}

// manifestTypes are the manifest media types the action reads.
var manifestTypes = []string{
	string(ggcrtypes.DockerManifestSchema2),
	string(ggcrtypes.DockerManifestList),
	string(ggcrtypes.OCIManifestSchema1),
	string(ggcrtypes.OCIImageIndex),
}

// Manifest returns the manifest with the given digest or tag.
func (r *Registry) Manifest(ctx context.Context, ref string) (registry.Manifest, error) {
	repo := r.repo
	out, err := r.api.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RegistryId:         r.id,
		RepositoryName:     aws.String(repo),
		ImageIds:           []types.ImageIdentifier{imageID(ref)},
		AcceptedMediaTypes: manifestTypes,
	})
	var nr *types.RepositoryNotFoundException
	switch {
	case errors.As(err, &nr):
		return registry.Manifest{}, fmt.Errorf("getting the manifest of %s:%s: the repository does not exist yet: %w", repo, ref, registry.ErrNotFound)
	case err != nil:
		return registry.Manifest{}, fmt.Errorf("getting the manifest of %s:%s: %w", repo, ref, err)
	}
	if len(out.Images) == 0 {
		if len(out.Failures) > 0 && out.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
			f := out.Failures[0]
			return registry.Manifest{}, fmt.Errorf("getting the manifest of %s:%s: %s: %s", repo, ref, f.FailureCode, aws.ToString(f.FailureReason))
		}
		return registry.Manifest{}, fmt.Errorf("getting the manifest of %s:%s: %w", repo, ref, registry.ErrNotFound)
	}
	img := out.Images[0]
	return registry.Manifest{Body: []byte(aws.ToString(img.ImageManifest)), MediaType: aws.ToString(img.ImageManifestMediaType)}, nil
}

// Lookup returns the manifests that tags point at, with one BatchGetImage:
// it needs no registry token and moves no blob. A tag that points at nothing
// (or at a manifest of a type the action does not read) is absent. A
// missing repository is registry.ErrNotFound (nothing is in it) and
// registry.ErrRepositoryMissing.
func (r *Registry) Lookup(ctx context.Context, tags []string) (map[string]registry.Manifest, error) {
	repo := r.repo
	ids := make([]types.ImageIdentifier, len(tags))
	for i, t := range tags {
		ids[i] = types.ImageIdentifier{ImageTag: aws.String(t)}
	}
	out, err := r.api.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RegistryId:         r.id,
		RepositoryName:     aws.String(repo),
		ImageIds:           ids,
		AcceptedMediaTypes: manifestTypes,
	})
	var nf *types.RepositoryNotFoundException
	switch {
	case errors.As(err, &nf):
		return nil, fmt.Errorf("looking up %s: repository %s does not exist%s: %w (%w)", strings.Join(tags, ", "), repo, r.inAccount(), registry.ErrNotFound, registry.ErrRepositoryMissing)
	case err != nil:
		return nil, fmt.Errorf("looking up %s in %s: %w", strings.Join(tags, ", "), repo, err)
	}
	found := map[string]registry.Manifest{}
	for _, img := range out.Images {
		if img.ImageId == nil || img.ImageId.ImageTag == nil {
			continue
		}
		found[*img.ImageId.ImageTag] = registry.Manifest{Body: []byte(aws.ToString(img.ImageManifest)), MediaType: aws.ToString(img.ImageManifestMediaType)}
	}
	for _, f := range out.Failures {
		switch f.FailureCode {
		case types.ImageFailureCodeImageNotFound, types.ImageFailureCodeImageTagDoesNotMatchDigest, types.ImageFailureCodeInvalidImageTag, "UnsupportedImageType":
		default:
			return nil, fmt.Errorf("looking up %s in %s: %s: %s", strings.Join(tags, ", "), repo, f.FailureCode, aws.ToString(f.FailureReason))
		}
	}
	return found, nil
}

// maxPage is the most images ECR lists in one answer.
const maxPage = 1000

// maxPages bounds the pages Tagged reads: 20,000 tagged images.
const maxPages = 20

// Tagged lists the repository's tags with when their images were pushed:
// DescribeImages over tagged images, page by page (each up to 1000 images),
// at most maxPages pages.
func (r *Registry) Tagged(ctx context.Context) ([]registry.Tag, error) {
	var (
		tags  []registry.Tag
		token *string
	)
	for page := 0; page < maxPages; page++ {
		out, err := r.api.DescribeImages(ctx, &ecr.DescribeImagesInput{
			RegistryId:     r.id,
			RepositoryName: aws.String(r.repo),
			Filter:         &types.DescribeImagesFilter{TagStatus: types.TagStatusTagged},
			MaxResults:     aws.Int32(maxPage),
			NextToken:      token,
		})
		if err != nil {
			return nil, fmt.Errorf("listing the tags of %s: %w", r.repo, err)
		}
		for _, d := range out.ImageDetails {
			for _, t := range d.ImageTags {
				tags = append(tags, registry.Tag{Name: t, Digest: aws.ToString(d.ImageDigest), PushedAt: aws.ToTime(d.ImagePushedAt)})
			}
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	return tags, nil
}

// Put stores a manifest under a tag (ECR PutImage: every blob it names must
// already be in the repository; none is uploaded). A tag that already points
// at this manifest is left as it is, so re-runs succeed on repositories with
// immutable tags.
func (r *Registry) Put(ctx context.Context, tag string, m registry.Manifest) error {
	repo := r.repo
	_, err := r.api.PutImage(ctx, &ecr.PutImageInput{
		RegistryId:             r.id,
		RepositoryName:         aws.String(repo),
		ImageManifest:          aws.String(string(m.Body)),
		ImageManifestMediaType: aws.String(m.MediaType),
		ImageTag:               aws.String(tag),
	})
	var same *types.ImageAlreadyExistsException
	var immutable *types.ImageTagAlreadyExistsException
	switch {
	case err == nil, errors.As(err, &same):
		return nil
	case errors.As(err, &immutable):
		if cur, derr := r.Describe(ctx, tag); derr == nil && cur.Digest == m.Digest() {
			return nil
		}
		return fmt.Errorf("tag %s already exists in %s, whose tags are immutable: choose a new tag: %w", tag, repo, err)
	}
	return err
}

// Expire sets the repository's lifecycle policy: one rule per prefix, which
// expires the images tagged with it once they are e.Days old. ECR expires
// whole images, not single tags, so no prefix may be on a released image.
func (r *Registry) Expire(ctx context.Context, e registry.Expiry) error {
	policy, err := lifecyclePolicy(e)
	if err == nil {
		_, err = r.api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{
			RegistryId:          r.id,
			RepositoryName:      aws.String(r.repo),
			LifecyclePolicyText: aws.String(policy),
		})
	}
	if err != nil {
		return fmt.Errorf("setting the lifecycle policy of %s: %w", r.repo, err)
	}
	return nil
}

// lifecyclePolicy is ECR's lifecycle policy JSON for e.
func lifecyclePolicy(e registry.Expiry) (string, error) {
	type selection struct {
		TagStatus      string   `json:"tagStatus"`
		TagPatternList []string `json:"tagPatternList"`
		CountType      string   `json:"countType"`
		CountUnit      string   `json:"countUnit"`
		CountNumber    int      `json:"countNumber"`
	}
	type action struct {
		Type string `json:"type"`
	}
	type rule struct {
		RulePriority int       `json:"rulePriority"`
		Description  string    `json:"description"`
		Selection    selection `json:"selection"`
		Action       action    `json:"action"`
	}
	var p struct {
		Rules []rule `json:"rules"`
	}
	for i, prefix := range e.Prefixes {
		p.Rules = append(p.Rules, rule{
			RulePriority: i + 1,
			Description:  fmt.Sprintf("ms-build: expire %s* after %d days", prefix, e.Days),
			Selection:    selection{TagStatus: "tagged", TagPatternList: []string{prefix + "*"}, CountType: "sinceImagePushed", CountUnit: "days", CountNumber: e.Days},
			Action:       action{Type: "expire"},
		})
	}
	b, err := json.Marshal(p)
	return string(b), err
}

// Untag removes one tag the run created. When it was the image's last tag,
// ECR deletes the image, as it does for any untagging.
func (r *Registry) Untag(ctx context.Context, tag string) error {
	repo := r.repo
	out, err := r.api.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{
		RegistryId:     r.id,
		RepositoryName: aws.String(repo),
		ImageIds:       []types.ImageIdentifier{{ImageTag: aws.String(tag)}},
	})
	if err != nil {
		return fmt.Errorf("removing tag %s from %s: %w", tag, repo, err)
	}
	if len(out.Failures) > 0 && out.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
		f := out.Failures[0]
		return fmt.Errorf("removing tag %s from %s: %s: %s", tag, repo, f.FailureCode, aws.ToString(f.FailureReason))
	}
	return nil
}
