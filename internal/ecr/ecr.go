package ecr

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
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

// Registry is one ECR registry (an account in a region).
type Registry struct {
	api API
	id  *string // nil: the caller's account
}

// New returns a Registry over the API. registryID is the account that owns
// the registry, "" for the caller's own.
func New(api API, registryID string) *Registry {
	r := &Registry{api: api}
	if registryID != "" {
		r.id = aws.String(registryID)
	}
	return r
}

// Auth is a registry login from GetAuthorizationToken.
type Auth struct {
	Host      string // the registry host, from proxyEndpoint with the scheme stripped
	Username  string
	Password  string // secret: mask it before anything can print it
	ExpiresAt time.Time
}

// Login gets a registry password. The password appears in no error.
func (r *Registry) Login(ctx context.Context) (Auth, error) {
	out, err := r.api.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return Auth{}, fmt.Errorf("getting an ECR authorization token: %w", err)
	}
	if len(out.AuthorizationData) == 0 {
		return Auth{}, errors.New("getting an ECR authorization token: the answer holds no authorization data")
	}
	d := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(d.AuthorizationToken))
	if err != nil {
		return Auth{}, errors.New("getting an ECR authorization token: the token is not base64")
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return Auth{}, errors.New("getting an ECR authorization token: the token is not user:password")
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
		return Auth{}, errors.New("getting an ECR authorization token: the answer names no registry (proxyEndpoint)")
	}
	return Auth{Host: host, Username: user, Password: pass, ExpiresAt: aws.ToTime(d.ExpiresAt)}, nil
}

// accountHost matches an ECR registry host: the account id, then the rest.
var accountHost = regexp.MustCompile(`^[0-9]{12}\.(dkr\.ecr\..+)$`)

// Repository is what the action needs to know of a repository.
type Repository struct {
	Name      string
	Immutable bool
	Created   bool // created by this run
}

// ErrRepositoryMissing is returned by EnsureRepository when the repository
// does not exist and may not be created.
var ErrRepositoryMissing = errors.New("repository does not exist")

// EnsureRepository finds the repository, creating it (scan on push on) when
// it is missing and create is true.
func (r *Registry) EnsureRepository(ctx context.Context, name string, create bool) (Repository, error) {
	out, err := r.api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RegistryId: r.id, RepositoryNames: []string{name}})
	var nf *types.RepositoryNotFoundException
	switch {
	case err == nil && len(out.Repositories) > 0:
		return Repository{Name: name, Immutable: isImmutable(out.Repositories[0].ImageTagMutability)}, nil
	case err != nil && !errors.As(err, &nf):
		return Repository{}, fmt.Errorf("looking up repository %s: %w", name, err)
	case !create:
		return Repository{}, fmt.Errorf("repository %s does not exist%s and create-repository is false: create it or set create-repository: true: %w", name, r.inAccount(), ErrRepositoryMissing)
	}
	cout, err := r.api.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RegistryId:                 r.id,
		RepositoryName:             aws.String(name),
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true},
		ImageTagMutability:         types.ImageTagMutabilityMutable,
	})
	var exists *types.RepositoryAlreadyExistsException
	switch {
	case errors.As(err, &exists): // another run created it meanwhile
		return r.EnsureRepository(ctx, name, false)
	case err != nil:
		return Repository{}, fmt.Errorf("creating repository %s: %w", name, err)
	}
	return Repository{Name: name, Created: true, Immutable: isImmutable(cout.Repository.ImageTagMutability)}, nil
}

func isImmutable(m types.ImageTagMutability) bool {
	return strings.HasPrefix(string(m), string(types.ImageTagMutabilityImmutable))
}

func (r *Registry) inAccount() string {
	if r.id == nil {
		return ""
	}
	return " in registry " + *r.id
}

// Image is what ECR reports of a pushed image.
type Image struct {
	Digest    string
	SizeBytes int64 // imageSizeInBytes: compressed, as ECR counts it
	Tags      []string
	MediaType string
	PushedAt  time.Time
}

// ErrImageNotFound is returned when no image has the given digest or tag.
var ErrImageNotFound = errors.New("image not found")

// Describe returns the image with the given digest or tag ("sha256:..." is
// a digest).
func (r *Registry) Describe(ctx context.Context, repo, ref string) (Image, error) {
	out, err := r.api.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RegistryId:     r.id,
		RepositoryName: aws.String(repo),
		ImageIds:       []types.ImageIdentifier{imageID(ref)},
	})
	var nf *types.ImageNotFoundException
	switch {
	case errors.As(err, &nf):
		return Image{}, fmt.Errorf("describing %s:%s: %w", repo, ref, ErrImageNotFound)
	case err != nil:
		return Image{}, fmt.Errorf("describing %s:%s: %w", repo, ref, err)
	case len(out.ImageDetails) == 0:
		return Image{}, fmt.Errorf("describing %s:%s: %w", repo, ref, ErrImageNotFound)
	}
	d := out.ImageDetails[0]
	return Image{
		Digest:    aws.ToString(d.ImageDigest),
		SizeBytes: aws.ToInt64(d.ImageSizeInBytes),
		Tags:      d.ImageTags,
		MediaType: aws.ToString(d.ImageManifestMediaType),
		PushedAt:  aws.ToTime(d.ImagePushedAt),
	}, nil
}

func imageID(ref string) types.ImageIdentifier {
	if strings.HasPrefix(ref, "sha256:") {
		return types.ImageIdentifier{ImageDigest: aws.String(ref)}
	}
	return types.ImageIdentifier{ImageTag: aws.String(ref)}
}

// TagError is a failure to attach one tag; Attached lists those attached
// before it.
type TagError struct {
	Tag      string
	Attached []string
	Err      error
}

func (e *TagError) Error() string { return fmt.Sprintf("attaching tag %s: %v", e.Tag, e.Err) }
func (e *TagError) Unwrap() error { return e.Err }

// manifestTypes are the manifest media types the action reads.
var manifestTypes = []string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
}

// Manifest is a manifest's exact bytes and media type.
type Manifest struct {
	Body      []byte
	MediaType string
}

// Manifest returns the manifest with the given digest or tag.
func (r *Registry) Manifest(ctx context.Context, repo, ref string) (Manifest, error) {
	out, err := r.api.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RegistryId:         r.id,
		RepositoryName:     aws.String(repo),
		ImageIds:           []types.ImageIdentifier{imageID(ref)},
		AcceptedMediaTypes: manifestTypes,
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("getting the manifest of %s:%s: %w", repo, ref, err)
	}
	if len(out.Images) == 0 {
		if len(out.Failures) > 0 && out.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
			f := out.Failures[0]
			return Manifest{}, fmt.Errorf("getting the manifest of %s:%s: %s: %s", repo, ref, f.FailureCode, aws.ToString(f.FailureReason))
		}
		return Manifest{}, fmt.Errorf("getting the manifest of %s:%s: %w", repo, ref, ErrImageNotFound)
	}
	img := out.Images[0]
	return Manifest{Body: []byte(aws.ToString(img.ImageManifest)), MediaType: aws.ToString(img.ImageManifestMediaType)}, nil
}

// Put stores a manifest under a tag (ECR PutImage: every blob it names must
// already be in the repository; none is uploaded). A tag that already points
// at this manifest is left as it is, so re-runs succeed on repositories with
// immutable tags.
func (r *Registry) Put(ctx context.Context, repo, tag string, m Manifest) error {
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
		if cur, derr := r.Describe(ctx, repo, tag); derr == nil && cur.Digest == digestOf(m.Body) {
			return nil
		}
		return fmt.Errorf("tag %s already exists in %s, whose tags are immutable: choose a new tag: %w", tag, repo, err)
	}
	return err
}

// Tag attaches tags to the image with the given digest (its manifest, put
// under each tag: no blob moves). It returns the tags attached, in order;
// on a failure, a *TagError that lists them.
func (r *Registry) Tag(ctx context.Context, repo, digest string, tags []string) ([]string, error) {
	m, err := r.Manifest(ctx, repo, digest)
	if err != nil {
		return nil, &TagError{Tag: tags[0], Err: err}
	}
	return r.TagManifest(ctx, repo, m, tags)
}

// TagManifest attaches tags to an image whose manifest the caller has.
func (r *Registry) TagManifest(ctx context.Context, repo string, m Manifest, tags []string) ([]string, error) {
	var attached []string
	for _, t := range tags {
		if err := r.Put(ctx, repo, t, m); err != nil {
			return attached, &TagError{Tag: t, Attached: attached, Err: err}
		}
		attached = append(attached, t)
	}
	return attached, nil
}

// digestOf is the sha256 digest of a manifest's bytes.
func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// SetLifecyclePolicy sets the repository's lifecycle policy.
func (r *Registry) SetLifecyclePolicy(ctx context.Context, repo, policy string) error {
	if _, err := r.api.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{
		RegistryId:          r.id,
		RepositoryName:      aws.String(repo),
		LifecyclePolicyText: aws.String(policy),
	}); err != nil {
		return fmt.Errorf("setting the lifecycle policy of %s: %w", repo, err)
	}
	return nil
}

// Untag removes one tag the run created. When it was the image's last tag,
// ECR deletes the image, as it does for any untagging.
func (r *Registry) Untag(ctx context.Context, repo, tag string) error {
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
