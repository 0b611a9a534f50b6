package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

// The hints are chosen by the errors' types, as the SDK builds them, never
// by their text.
func TestHint(t *testing.T) {
	t.Parallel()
	opErr := func(op string, err error) error {
		return fmt.Errorf("getting an ECR authorization token: %w", &smithy.OperationError{ServiceID: "ECR", OperationName: op, Err: err})
	}
	for _, tc := range []struct {
		name string
		err  error
		want string // "" for no hint
	}{
		{"no credentials", opErr("GetAuthorizationToken", fmt.Errorf("get identity: get credentials: %w", &noCredentialsError{errors.New("failed to refresh cached credentials, no EC2 IMDS role found")})), "no AWS credentials were found"},
		{"access denied", opErr("CreateRepository", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}), "lack a permission"},
		{"kept failing", opErr("PutImage", &retry.MaxAttemptsError{Attempt: 5, Err: &smithy.GenericAPIError{Code: "ServerException"}}), "ECR kept failing on PutImage after 5 attempts"},
		{"text alone is no cause", errors.New("AccessDenied: failed to retrieve credentials, exceeded maximum number of attempts"), ""},
		{"another API error", opErr("DescribeImages", &smithy.GenericAPIError{Code: "ImageNotFoundException"}), ""},
		{"role refused", refused(&smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity"}),
			`STS refused the ID token for role arn:aws:iam::1:role/ci (AccessDenied): check the role's trust policy`},
		{"token refused", refused(&types.InvalidIdentityTokenException{Message: aws.String("Incorrect token audience")}), "the component's aws-audience input"},
		{"STS throttled is no refusal", refused(&smithy.GenericAPIError{Code: "Throttling"}), "no AWS credentials were found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := hint(tc.err, func(k string) string { return map[string]string{"AWS_ROLE_ARN": "arn:aws:iam::1:role/ci"}[k] })
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("hint() = %q, want one saying %q", got, tc.want)
			}
		})
	}
}

// refused is STS refusing a web identity, as the SDK's default chain
// reports it from an ECR call.
func refused(apiErr error) error {
	sts := &smithy.OperationError{ServiceID: "STS", OperationName: "AssumeRoleWithWebIdentity", Err: apiErr}
	creds := &noCredentialsError{fmt.Errorf("failed to refresh cached credentials, %w", fmt.Errorf("failed to retrieve credentials, %w", sts))}
	return fmt.Errorf("getting an ECR authorization token: %w", &smithy.OperationError{ServiceID: "ECR", OperationName: "GetAuthorizationToken", Err: fmt.Errorf("get identity: get credentials: %w", creds)})
}

// TestRoleHintClaims: the hint names the refused token's aud and sub, read
// from its file, quoted (they come from the identity provider), and never
// the token itself.
func TestRoleHintClaims(t *testing.T) {
	t.Parallel()
	enc := base64.RawURLEncoding
	payload := enc.EncodeToString([]byte(`{"iss":"https://gitlab.example.com","aud":"https://gitlab.example.com","sub":"project_path:acme/app:ref_type:branch:ref:ma\nin"}`))
	token := enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + payload + ".c2lnbmF0dXJl"
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_ROLE_ARN": "arn:aws:iam::1:role/ci", "AWS_WEB_IDENTITY_TOKEN_FILE": file}
	got := hint(refused(&smithy.GenericAPIError{Code: "AccessDenied"}), func(k string) string { return env[k] })
	for _, want := range []string{
		`the IAM OIDC provider for "https://gitlab.example.com"`,
		`gitlab.example.com:aud condition must include the token's aud ("https://gitlab.example.com"`,
		`gitlab.example.com:sub condition must match the token's sub ("project_path:acme/app:ref_type:branch:ref:ma\nin")`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("hint = %s\nwant it to say %s", got, want)
		}
	}
	if strings.Contains(got, "c2lnbmF0dXJl") || strings.Contains(got, payload) || strings.Contains(got, "\n") {
		t.Errorf("hint = %q: it holds the token or a raw newline", got)
	}
}
