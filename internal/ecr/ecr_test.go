package ecr

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"
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
			}}, tc.registryID)
			got, err := r.Login(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := Auth{Host: tc.host, Username: "AWS", Password: "s3cr3t-password", ExpiresAt: time.Unix(1700000000, 0)}
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
		}}, "")
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
		}}, "")
		got, err := r.EnsureRepository(t.Context(), "team/app", false)
		if err != nil || got != (Repository{Name: "team/app", Immutable: true}) {
			t.Errorf("EnsureRepository() = %+v, %v", got, err)
		}
	})
	t.Run("created with scan on push", func(t *testing.T) {
		t.Parallel()
		var in *ecr.CreateRepositoryInput
		r := New(&fake{describe: notFound, create: func(i *ecr.CreateRepositoryInput) (*ecr.CreateRepositoryOutput, error) {
			in = i
			return &ecr.CreateRepositoryOutput{Repository: &types.Repository{ImageTagMutability: types.ImageTagMutabilityMutable}}, nil
		}}, "")
		got, err := r.EnsureRepository(t.Context(), "team/app", true)
		if err != nil || !got.Created {
			t.Fatalf("EnsureRepository() = %+v, %v; want created", got, err)
		}
		if !in.ImageScanningConfiguration.ScanOnPush {
			t.Error("repository created without scan on push")
		}
	})
	t.Run("missing and not to be created", func(t *testing.T) {
		t.Parallel()
		r := New(&fake{describe: notFound}, "")
		_, err := r.EnsureRepository(t.Context(), "team/app", false)
		if !errors.Is(err, ErrRepositoryMissing) || !strings.Contains(err.Error(), "create-repository is false: create it or set create-repository: true") {
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
		}, "")
		if got, err := r.EnsureRepository(t.Context(), "team/app", true); err != nil || got.Created {
			t.Errorf("EnsureRepository() = %+v, %v; want the existing repository", got, err)
		}
	})
}

const manifest = `{"schemaVersion":2}`

// digest of manifest
var manifestDigest = digestOf([]byte(manifest))

func TestTagPartialFailure(t *testing.T) {
	t.Parallel()
	var put []string
	r := New(&fake{
		get: func(*ecr.BatchGetImageInput) (*ecr.BatchGetImageOutput, error) {
			return &ecr.BatchGetImageOutput{Images: []types.Image{{ImageManifest: aws.String(manifest), ImageManifestMediaType: aws.String("application/vnd.oci.image.manifest.v1+json")}}}, nil
		},
		put: func(in *ecr.PutImageInput) (*ecr.PutImageOutput, error) {
			tag := aws.ToString(in.ImageTag)
			put = append(put, tag)
			switch tag {
			case "same":
				return nil, &types.ImageAlreadyExistsException{}
			case "bad":
				return nil, errors.New("throttled for good")
			}
			return &ecr.PutImageOutput{}, nil
		},
	}, "")
	attached, err := r.Tag(t.Context(), "team/app", manifestDigest, []string{"v1", "same", "bad", "never"})
	var te *TagError
	if !errors.As(err, &te) || te.Tag != "bad" {
		t.Fatalf("error = %v, want a *TagError for tag bad", err)
	}
	if diff := cmp.Diff([]string{"v1", "same"}, attached); diff != "" {
		t.Errorf("attached (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(attached, te.Attached); diff != "" {
		t.Errorf("TagError.Attached (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"v1", "same", "bad"}, put); diff != "" {
		t.Errorf("PutImage calls (-want +got): no tag may be tried after a failure\n%s", diff)
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
			}, "")
			err := r.Put(t.Context(), "team/app", "v1", Manifest{Body: []byte(manifest), MediaType: "application/vnd.oci.image.manifest.v1+json"})
			if got := err != nil; got != tc.wantErr {
				t.Errorf("Put() error = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "immutable: choose a new tag") {
				t.Errorf("error %q does not say what to do", err)
			}
		})
	}
}
