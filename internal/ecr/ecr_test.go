package ecr

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/registry"
)

// fake answers the calls a test scripts; any other call panics (the
// embedded nil interface), so a test sees every call it did not expect.
type fake struct {
	API
	auth     func(*ecr.GetAuthorizationTokenInput) (*ecr.GetAuthorizationTokenOutput, error)
	describe func(*ecr.DescribeRepositoriesInput) (*ecr.DescribeRepositoriesOutput, error)
	create   func(*ecr.CreateRepositoryInput) (*ecr.CreateRepositoryOutput, error)
	images   func(*ecr.DescribeImagesInput) (*ecr.DescribeImagesOutput, error)
	get      func(*ecr.BatchGetImageInput) (*ecr.BatchGetImageOutput, error)
	put      func(*ecr.PutImageInput) (*ecr.PutImageOutput, error)
}

func (f *fake) GetAuthorizationToken(_ context.Context, in *ecr.GetAuthorizationTokenInput, _ ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error) {
	return f.auth(in)
}
func (f *fake) DescribeRepositories(_ context.Context, in *ecr.DescribeRepositoriesInput, _ ...func(*ecr.Options)) (*ecr.DescribeRepositoriesOutput, error) {
	return f.describe(in)
}
func (f *fake) CreateRepository(_ context.Context, in *ecr.CreateRepositoryInput, _ ...func(*ecr.Options)) (*ecr.CreateRepositoryOutput, error) {
	return f.create(in)
}
func (f *fake) DescribeImages(_ context.Context, in *ecr.DescribeImagesInput, _ ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error) {
	return f.images(in)
}
func (f *fake) BatchGetImage(_ context.Context, in *ecr.BatchGetImageInput, _ ...func(*ecr.Options)) (*ecr.BatchGetImageOutput, error) {
	return f.get(in)
}
func (f *fake) PutImage(_ context.Context, in *ecr.PutImageInput, _ ...func(*ecr.Options)) (*ecr.PutImageOutput, error) {
	return f.put(in)
}

func token(s string) *ecr.GetAuthorizationTokenOutput {
	return &ecr.GetAuthorizationTokenOutput{AuthorizationData: []types.AuthorizationData{{
		AuthorizationToken: aws.String(base64.StdEncoding.EncodeToString([]byte(s))),
		ProxyEndpoint:      aws.String("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
		ExpiresAt:          aws.Time(time.Unix(1700000000, 0)),
	}}}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, registryID, host string
	}{
		{"own registry", "", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"},
		{"another account's", "210987654321", "210987654321.dkr.ecr.eu-west-1.amazonaws.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := New(&fake{auth: func(*ecr.GetAuthorizationTokenInput) (*ecr.GetAuthorizationTokenOutput, error) {
				return token("AWS:s3cr3t-password"), nil
			}}, tc.registryID, "team/app")
			got, err := r.Login(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := registry.Login{Auth: build.Auth{Host: tc.host, Username: "AWS", Password: "s3cr3t-password"}, ExpiresAt: time.Unix(1700000000, 0)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Login() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoginBadTokenKeepsSecret(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"no-colon-s3cr3t", "AWS:"} {
		r := New(&fake{auth: func(*ecr.GetAuthorizationTokenInput) (*ecr.GetAuthorizationTokenOutput, error) {
			return token(tok), nil
		}}, "", "team/app")
		_, err := r.Login(t.Context())
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Login() with token %q: error = %v, want one without the token", tok, err)
		}
	}
}

func TestEnsureRepository(t *testing.T) {
	t.Parallel()
	notFound := func(*ecr.DescribeRepositoriesInput) (*ecr.DescribeRepositoriesOutput, error) {
		return nil, &types.RepositoryNotFoundException{Message: aws.String("nope")}
	}
	t.Run("exists", func(t *testing.T) {
		t.Parallel()
		r := New(&fake{describe: func(*ecr.DescribeRepositoriesInput) (*ecr.DescribeRepositoriesOutput, error) {
			return &ecr.DescribeRepositoriesOutput{Repositories: []types.Repository{{ImageTagMutability: types.ImageTagMutabilityImmutable}}}, nil
		}}, "", "team/app")
		got, err := r.Repository(t.Context(), false)
		if err != nil || !cmp.Equal(got, registry.Repository{Immutable: true}) {
			t.Errorf("Repository() = %+v, %v", got, err)
		}
	})
	t.Run("created with scan on push", func(t *testing.T) {
		t.Parallel()
		var in *ecr.CreateRepositoryInput
		r := New(&fake{describe: notFound, create: func(i *ecr.CreateRepositoryInput) (*ecr.CreateRepositoryOutput, error) {
			in = i
			return &ecr.CreateRepositoryOutput{Repository: &types.Repository{ImageTagMutability: types.ImageTagMutabilityMutable}}, nil
		}}, "", "team/app")
		got, err := r.Repository(t.Context(), true)
		if err != nil || !got.Created {
			t.Fatalf("Repository() = %+v, %v; want created", got, err)
		}
		if !in.ImageScanningConfiguration.ScanOnPush {
			t.Error("repository created without scan on push")
		}
		if in.ImageTagMutability != types.ImageTagMutabilityImmutableWithExclusion {
			t.Errorf("repository created %s, want IMMUTABLE_WITH_EXCLUSION", in.ImageTagMutability)
		}
		var filters []string
		for _, f := range in.ImageTagMutabilityExclusionFilters {
			filters = append(filters, string(f.FilterType)+" "+aws.ToString(f.Filter))
		}
		if diff := cmp.Diff([]string{"WILDCARD latest", "WILDCARD buildcache-*", "WILDCARD msb-skip-*", "WILDCARD msb-staging-*"}, filters); diff != "" {
			t.Errorf("exclusion filters (-want +got):\n%s", diff)
		}
	})
	t.Run("immutable with exclusion is read with its exclusions", func(t *testing.T) {
		t.Parallel()
		r := New(&fake{describe: func(*ecr.DescribeRepositoriesInput) (*ecr.DescribeRepositoriesOutput, error) {
			return &ecr.DescribeRepositoriesOutput{Repositories: []types.Repository{{ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion,
				ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{{Filter: aws.String("latest"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}, {Filter: aws.String("buildcache-*"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}}}}}, nil
		}}, "", "team/app")
		got, err := r.Repository(t.Context(), false)
		if err != nil {
			t.Fatal(err)
		}
		for tag, want := range map[string]bool{"latest": true, "buildcache-runtime-main": true, "v1.2.3": false, "abc1234": false} {
			if got.Mutable(tag) != want {
				t.Errorf("Mutable(%q) = %v, want %v", tag, !want, want)
			}
		}
	})
	t.Run("missing and not to be created", func(t *testing.T) {
		t.Parallel()
		r := New(&fake{describe: notFound}, "", "team/app")
		_, err := r.Repository(t.Context(), false)
		if !errors.Is(err, registry.ErrRepositoryMissing) || !strings.Contains(err.Error(), "create-repository is false: create it or set create-repository: true") {
			t.Errorf("error = %v, want ErrRepositoryMissing saying what to do", err)
		}
	})
	t.Run("created meanwhile by another run", func(t *testing.T) {
		t.Parallel()
		calls := 0
		r := New(&fake{
			describe: func(in *ecr.DescribeRepositoriesInput) (*ecr.DescribeRepositoriesOutput, error) {
				calls++
				if calls == 1 {
					return notFound(in)
				}
				return &ecr.DescribeRepositoriesOutput{Repositories: []types.Repository{{}}}, nil
			},
			create: func(*ecr.CreateRepositoryInput) (*ecr.CreateRepositoryOutput, error) {
				return nil, &types.RepositoryAlreadyExistsException{}
			},
		}, "", "team/app")
		if got, err := r.Repository(t.Context(), true); err != nil || got.Created {
			t.Errorf("Repository() = %+v, %v; want the existing repository", got, err)
		}
	})
}

const manifest = `{"schemaVersion":2}`

// digest of manifest
var manifestDigest = registry.Manifest{Body: []byte(manifest)}.Digest()

// The tags attached before a failing one are the run's to report
// (internal/pipeline's partial-tags test); here: an image that already has
// the tag is no failure.
func TestPutAlreadyThere(t *testing.T) {
	t.Parallel()
	r := New(&fake{put: func(in *ecr.PutImageInput) (*ecr.PutImageOutput, error) {
		return nil, &types.ImageAlreadyExistsException{}
	}}, "", "team/app")
	if err := r.Put(t.Context(), "same", registry.Manifest{Body: []byte(manifest), MediaType: "application/vnd.oci.image.manifest.v1+json"}); err != nil {
		t.Errorf("Put() of a tag the image has = %v, want nil", err)
	}
}

func TestLifecyclePolicy(t *testing.T) {
	t.Parallel()
	got, err := lifecyclePolicy(registry.Expiry{Prefixes: []string{"buildcache-", "msb-skip-"}, Days: 14})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"rules":[` +
		`{"rulePriority":1,"description":"ms-build: expire buildcache-* after 14 days","selection":{"tagStatus":"tagged","tagPatternList":["buildcache-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}},` +
		`{"rulePriority":2,"description":"ms-build: expire msb-skip-* after 14 days","selection":{"tagStatus":"tagged","tagPatternList":["msb-skip-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lifecyclePolicy() (-want +got):\n%s", diff)
	}
}

func TestPutImmutable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		current string
		wantErr bool
	}{{"same image", manifestDigest, false}, {"other image", "sha256:0000", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := New(&fake{
				put: func(*ecr.PutImageInput) (*ecr.PutImageOutput, error) {
					return nil, &types.ImageTagAlreadyExistsException{Message: aws.String("immutable")}
				},
				images: func(*ecr.DescribeImagesInput) (*ecr.DescribeImagesOutput, error) {
					return &ecr.DescribeImagesOutput{ImageDetails: []types.ImageDetail{{ImageDigest: aws.String(tc.current)}}}, nil
				},
			}, "", "team/app")
			err := r.Put(t.Context(), "v1", registry.Manifest{Body: []byte(manifest), MediaType: "application/vnd.oci.image.manifest.v1+json"})
			if got := err != nil; got != tc.wantErr {
				t.Errorf("Put() error = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "immutable: choose a new tag") {
				t.Errorf("error %q does not say what to do", err)
			}
		})
	}
}

// A repository the run is creating beside its build holds no image yet: a
// lookup there is a miss, not a failure to warn about.
func TestMissingRepositoryHoldsNothing(t *testing.T) {
	t.Parallel()
	missing := &types.RepositoryNotFoundException{Message: aws.String("nope")}
	r := New(&fake{
		images: func(*ecr.DescribeImagesInput) (*ecr.DescribeImagesOutput, error) { return nil, missing },
		get:    func(*ecr.BatchGetImageInput) (*ecr.BatchGetImageOutput, error) { return nil, missing },
	}, "", "team/app")
	if _, err := r.Describe(t.Context(), "buildcache-0123"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Describe() = %v, want ErrNotFound", err)
	}
	if _, err := r.Manifest(t.Context(), "buildcache-0123"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Manifest() = %v, want ErrNotFound", err)
	}
}

// TestTaggedReadsEveryPage: the tags come from every page DescribeImages
// gives, up to maxPages, so that a repository of more than a page of images
// still shows its highest release.
func TestTaggedReadsEveryPage(t *testing.T) {
	t.Parallel()
	calls := 0
	f := &fake{images: func(in *ecr.DescribeImagesInput) (*ecr.DescribeImagesOutput, error) {
		calls++
		if calls > 1 && aws.ToString(in.NextToken) != "page"+strconv.Itoa(calls-1) {
			t.Errorf("call %d: nextToken %q", calls, aws.ToString(in.NextToken))
		}
		out := &ecr.DescribeImagesOutput{ImageDetails: []types.ImageDetail{{ImageDigest: aws.String("sha256:" + strings.Repeat(strconv.Itoa(calls%10), 64)), ImageTags: []string{"t" + strconv.Itoa(calls)}}}}
		if calls < 3 {
			out.NextToken = aws.String("page" + strconv.Itoa(calls))
		}
		return out, nil
	}}
	tags, err := New(f, "", "team/app").Tagged(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range tags {
		names = append(names, tg.Name)
	}
	if diff := cmp.Diff([]string{"t1", "t2", "t3"}, names); diff != "" || calls != 3 {
		t.Errorf("%d calls; tags (-want +got):\n%s", calls, diff)
	}
}
