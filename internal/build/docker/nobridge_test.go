package docker

import (
	"errors"
	"testing"

	"github.com/org/ms-build-action/internal/build"
)

// TestNoBridge: a step that failed for want of the engine's bridge network
// is the engine's failure, build.ErrNoBridge, and no step's; other step
// failures stay theirs.
func TestNoBridge(t *testing.T) {
	t.Parallel()
	bridge := &build.StepError{Step: "[build 2/4] RUN go mod download", Msg: "network bridge not found"}
	if err := noBridge(bridge); !errors.Is(err, build.ErrNoBridge) || errors.As(err, new(*build.StepError)) {
		t.Errorf("noBridge(%v) = %v, want build.ErrNoBridge and no StepError", bridge, err)
	}
	step := &build.StepError{Step: "[build 2/4] RUN make", Msg: `process "/bin/sh -c make" did not complete successfully: exit code: 2`}
	if err := noBridge(step); err != step {
		t.Errorf("noBridge(%v) = %v, want it unchanged", step, err)
	}
	if err := noBridge(errors.New("network bridge not found")); errors.Is(err, build.ErrNoBridge) {
		t.Error("an error that is not a step's was classified")
	}
}
