package bkit

import (
	"errors"
	"strings"
	"testing"

	"github.com/org/ms-build-action/internal/build"
)

// TestExplainRefusal: what the engine says of a refused pull becomes one
// line naming the registry and what to check; other errors stay as they are.
func TestExplainRefusal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		err       error
		host, ref string
	}{
		{"basic 401", &build.StepError{Step: "[internal] load metadata for 127.0.0.1:5000/team/app:base", Msg: "pulling from host 127.0.0.1:5000 failed with status code [manifests base]: 401 Unauthorized"}, "127.0.0.1:5000", "127.0.0.1:5000/team/app:base"},
		{"ecr 403", &build.StepError{Step: "[internal] load metadata for 123456789012.dkr.ecr.eu-west-1.amazonaws.com/base:1", Msg: "unexpected status from HEAD request to https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/base/manifests/1: 403 Forbidden"}, "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/base:1"},
		{"token", errors.New("building: failed to solve: failed to resolve source metadata for ghcr.io/org/base:1: failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized"), "ghcr.io", "ghcr.io/org/base:1"},
		{"docker hub", &build.StepError{Step: "[internal] load metadata for docker.io/library/private:1", Msg: "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"}, "docker.io", "docker.io/library/private:1"},
		{"no session", &build.StepError{Step: "[internal] load metadata for 127.0.0.1:5000/team/app:base", Msg: "no active sessions"}, "127.0.0.1:5000", "127.0.0.1:5000/team/app:base"},
		{"engine pull", errors.New("pulling 127.0.0.1:5000/team/app:base: Error response from daemon: unauthorized: authentication required"), "127.0.0.1:5000", "127.0.0.1:5000/team/app:base"},
		{"run step", &build.StepError{Step: "[build 2/3] RUN ./fetch", Msg: "pulling deps: 403 denied"}, "", ""},
		{"step failed", &build.StepError{Step: "[build 2/3] RUN make", Msg: "exit code: 2"}, "", ""},
		{"not found", &build.StepError{Step: "[internal] load metadata for 127.0.0.1:5000/team/app:base", Msg: "127.0.0.1:5000/team/app:base: not found"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ExplainRefusal(tc.err)
			var re *RegistryRefusedError
			if !errors.As(err, &re) {
				if tc.host != "" {
					t.Fatalf("ExplainRefusal(%v) = %v, want a RegistryRefusedError", tc.err, err)
				}
				if err != tc.err {
					t.Errorf("ExplainRefusal(%v) = %v, want it unchanged", tc.err, err)
				}
				return
			}
			if re.Host != tc.host || re.Ref != tc.ref {
				t.Errorf("refused by %q for %q, want %q for %q", re.Host, re.Ref, tc.host, tc.ref)
			}
			if !errors.Is(err, tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ExplainRefusal() = %q, want one line wrapping the engine's error", err)
			}
			var se *build.StepError
			if _, isStep := tc.err.(*build.StepError); isStep && !errors.As(err, &se) {
				t.Error("the StepError is lost")
			}
		})
	}
}
