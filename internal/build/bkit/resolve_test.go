package bkit

import (
	"errors"
	"testing"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/registry"
)

// A build that failed resolving an image it pulls says which, and whether
// the registry failed (worth another try) or refused.
func TestResolveFault(t *testing.T) {
	t.Parallel()
	const step = "[internal] load metadata for 127.0.0.1:5000/base/busybox:1"
	for _, tc := range []struct {
		name        string
		err         error
		ref         string // "" when no *build.ResolveError is wanted
		unavailable bool
	}{
		{"503", &build.StepError{Step: step, Msg: "pulling from host 127.0.0.1:5000 failed with status code [manifests 1]: 503 Service Unavailable"}, "127.0.0.1:5000/base/busybox:1", true},
		{"reset", &build.StepError{Step: step, Msg: "read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"}, "127.0.0.1:5000/base/busybox:1", true},
		{"401", &build.StepError{Step: step, Msg: "pulling from host 127.0.0.1:5000 failed with status code [manifests 1]: 401 Unauthorized"}, "127.0.0.1:5000/base/busybox:1", false},
		{"a failing RUN", &build.StepError{Step: "[build 4/6] RUN make", Msg: "exit code: 2"}, "", false},
		{"no step", errors.New("building: 503 Service Unavailable"), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ResolveFault(tc.err)
			var re *build.ResolveError
			if got := errors.As(err, &re); got != (tc.ref != "") || got && re.Ref != tc.ref {
				t.Errorf("ResolveFault() = %v; want a ResolveError for %q: %v", err, tc.ref, got)
			}
			if got := errors.Is(err, registry.ErrUnavailable); got != tc.unavailable {
				t.Errorf("errors.Is(ErrUnavailable) = %v, want %v", got, tc.unavailable)
			}
			var se *build.StepError
			if !errors.As(err, &se) && tc.ref != "" {
				t.Error("the step's error is lost")
			}
		})
	}
}
