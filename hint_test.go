package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := hint(tc.err)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("hint() = %q, want one saying %q", got, tc.want)
			}
		})
	}
}
