package testenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// TestSTS drives the endpoint as the product does: the AWS SDK's default
// chain with AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, then ECR with the
// credentials STS gave. Refusals carry STS's codes.
func TestSTS(t *testing.T) {
	t.Parallel()
	e := StartECR(t, GGCR, Options{SessionToken: true})
	const role = "arn:aws:iam::123456789012:role/ci-ecr-push"
	s := StartSTS(t, e, "https://gitlab.example.com", []string{"https://gitlab.example.com"},
		STSRole{ARN: role, Audience: "https://gitlab.example.com", Subject: "project_path:acme/app:ref_type:branch:ref:*"})
	good := map[string]any{"aud": "https://gitlab.example.com", "sub": "project_path:acme/app:ref_type:branch:ref:main"}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for k, v := range good {
			c[k] = v
		}
		c[k] = v
		return c
	}
	for _, tc := range []struct {
		name, role, token, code string
	}{
		{"granted", role, s.Token(good), ""},
		{"wrong audience", role, s.Token(with("aud", "sts.amazonaws.com")), "InvalidIdentityToken"},
		{"wrong subject", role, s.Token(with("sub", "project_path:acme/other:ref_type:branch:ref:main")), "AccessDenied"},
		{"unknown role", "arn:aws:iam::123456789012:role/nope", s.Token(good), "AccessDenied"},
		{"expired", role, s.Token(with("exp", 1)), "ExpiredTokenException"},
		{"other issuer", role, s.Token(with("iss", "https://gitlab.com")), "InvalidIdentityToken"},
		{"forged", role, s.Token(good)[:20] + "x" + s.Token(good)[21:], "InvalidIdentityToken"},
		{"not a JWT", role, "opaque", "InvalidIdentityToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(file, []byte(tc.token), 0o600); err != nil {
				t.Fatal(err)
			}
			err := callECR(t.Context(), e, s, tc.role, file)
			var api smithy.APIError
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("DescribeRepositories with the role's credentials: %v", err)
			case tc.code != "" && (!errors.As(err, &api) || api.ErrorCode() != tc.code):
				t.Fatalf("got %v, want STS error %s", err, tc.code)
			}
		})
	}
}

// callECR makes one ECR call with the credentials of the provider the SDK's
// default chain builds from AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE.
func callECR(ctx context.Context, e *ECR, s *STS, role, tokenFile string) error {
	stsClient := sts.New(sts.Options{Region: e.Region, BaseEndpoint: aws.String(s.Endpoint)})
	creds := aws.NewCredentialsCache(stscreds.NewWebIdentityRoleProvider(stsClient, role, stscreds.IdentityTokenFile(tokenFile)))
	client := ecr.NewFromConfig(aws.Config{Region: e.Region, Credentials: creds}, func(o *ecr.Options) { o.BaseEndpoint = aws.String(e.Endpoint) })
	_, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	return err
}
