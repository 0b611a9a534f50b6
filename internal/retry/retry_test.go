package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/org/ms-build-action/internal/retry"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBudget(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1000, 0)}
	b := retry.NewBudget(time.Minute, c.now)
	if got, want := b.Left(), time.Minute; got != want {
		t.Errorf("Left() before any fault = %v, want %v", got, want)
	}
	ctx, cancel := b.Bound(t.Context())
	if _, ok := ctx.Deadline(); ok {
		t.Error("Bound() before any fault set a deadline: a long push that does not fail must not be cut")
	}
	cancel()

	// A fault that began 20 s ago (the engine retried a layer meanwhile).
	c.t = c.t.Add(30 * time.Second)
	b.Fault(c.t.Add(-20 * time.Second))
	if got, want := b.Left(), 40*time.Second; got != want {
		t.Errorf("Left() = %v, want %v: the engine's retries count", got, want)
	}
	// A later fault does not restart the clock.
	c.t = c.t.Add(10 * time.Second)
	b.Fault(c.t)
	if got, want := b.Left(), 30*time.Second; got != want {
		t.Errorf("Left() after a second fault = %v, want %v", got, want)
	}
	if !b.Allows(4*time.Second) || b.Allows(30*time.Second) {
		t.Error("Allows() does not follow what is left")
	}
	ctx, cancel = b.Bound(t.Context())
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 30*time.Second {
		t.Errorf("Bound() after a fault: deadline %v, want within 30 s", d)
	}
	c.t = c.t.Add(time.Hour)
	if got := b.Left(); got != 0 {
		t.Errorf("Left() long after = %v, want 0", got)
	}
	ctx, cancel = b.Bound(t.Context())
	defer cancel()
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), retry.ErrSpent) {
		t.Errorf("a spent budget's context ends with %v, want ErrSpent", context.Cause(ctx))
	}
}

func TestPause(t *testing.T) {
	t.Parallel()
	var total time.Duration
	for try := 1; try < retry.Tries; try++ {
		total += retry.Pause(try)
	}
	if total != 7*time.Second {
		t.Errorf("the pauses between %d tries add up to %v, want 7 s", retry.Tries, total)
	}
}

// TestBudgetCutsCallsInFlight: a call that started before the first fault
// (unbounded then: a long push must not be cut for nothing) is cut off when
// the budget runs out.
func TestBudgetCutsCallsInFlight(t *testing.T) {
	t.Parallel()
	b := retry.NewBudget(50*time.Millisecond, time.Now)
	ctx, cancel := b.Bound(t.Context())
	defer cancel()
	b.Fault(time.Now())
	select {
	case <-ctx.Done():
		if !errors.Is(context.Cause(ctx), retry.ErrSpent) {
			t.Errorf("cut off with %v, want ErrSpent", context.Cause(ctx))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a call in flight was not cut off when the budget ran out")
	}
}
