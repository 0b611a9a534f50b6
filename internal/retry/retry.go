package retry

import (
	"context"
	"errors"
	"sync"
	"time"
)

// The policy. Each remote call is retried in one place only: ECR API calls
// by the AWS SDK (ECRAttempts, ECRMaxBackoff), layer uploads and downloads
// by the engine (its own five tries, EngineRetries), and a push's manifest,
// which the engine does not retry, by the run (Tries, Pause). The run never
// retries an ECR call, and a push it tries again runs under the Budget: what
// the engine already retried is not retried again in full.
const (
	// Faults is how long one run may spend on remote faults, all calls
	// together, from the first fault: a fault that persists fails the run
	// within it, wherever it sits. It is EngineRetries: a push or pull that
	// failed after the engine retried a layer for all of that is not tried
	// again, while one that failed quickly (a manifest) has time for its
	// tries.
	Faults = EngineRetries

	// Tries is how many times the run tries a push that failed on a fault
	// that may pass: three faults in a row are survived.
	Tries = 4

	// EngineRetries is how long the engine may already have spent retrying
	// one layer before a push or pull fails (five tries, with 5, 10, 15 and
	// 20 s between them): that time counts against the budget.
	EngineRetries = 50 * time.Second

	// ECRAttempts is how many times the AWS SDK tries an ECR call that was
	// throttled or failed on the server's side; ECRMaxBackoff bounds each
	// of its jittered pauses, so a call that keeps failing gives up within
	// about 12 s.
	ECRAttempts   = 5
	ECRMaxBackoff = 4 * time.Second
)

// Pause is the wait before try+1, after try failed: 1 s, 2 s, 4 s.
func Pause(try int) time.Duration {
	return time.Duration(1<<(try-1)) * time.Second
}

// ErrSpent is the error of a call cut short because the run's budget for
// faults ran out.
var ErrSpent = errors.New("the run's time for remote faults ran out")

// Budget is how long one run may still spend on remote faults. Its clock
// starts at the first fault, and every remote call made after it is
// bounded by what is left. It is safe for concurrent use: the run's
// background work shares it.
type Budget struct {
	total time.Duration
	now   func() time.Time

	mu    sync.Mutex
	first time.Time // when the first fault began; zero until one is seen
	// spent ends when the budget runs out, cutting off the calls that
	// started before the first fault.
	spent context.Context
	end   context.CancelCauseFunc
}

// NewBudget returns a budget of total (Faults when 0), read on now.
func NewBudget(total time.Duration, now func() time.Time) *Budget {
	if total <= 0 {
		total = Faults
	}
	spent, end := context.WithCancelCause(context.Background())
	return &Budget{total: total, now: now, spent: spent, end: end}
}

// Fault records a fault that may have begun as early as began. The first
// one starts the clock.
func (b *Budget) Fault(began time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.first.IsZero() && !began.Before(b.first) {
		return
	}
	b.first = began
	time.AfterFunc(max(0, b.total-b.now().Sub(b.first)), func() { b.end(ErrSpent) })
}

// Left is how much of the budget is left: all of it before any fault,
// never less than 0.
func (b *Budget) Left() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.first.IsZero() {
		return b.total
	}
	return max(0, b.total-b.now().Sub(b.first))
}

// Total is the whole budget.
func (b *Budget) Total() time.Duration { return b.total }

// Faulted reports whether a fault has been seen.
func (b *Budget) Faulted() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.first.IsZero()
}

// Bound returns ctx cut off, with ErrSpent as its cause, when the budget
// runs out: once a fault has been seen, a call gets only what is left, and
// a call that started before the first fault is cut off when it runs out.
func (b *Budget) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	var cancel context.CancelFunc
	if b.Faulted() {
		ctx, cancel = context.WithTimeoutCause(ctx, b.Left(), ErrSpent)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	cctx, cut := context.WithCancelCause(ctx)
	stop := context.AfterFunc(b.spent, func() { cut(ErrSpent) })
	return cctx, func() {
		stop()
		cut(nil)
		cancel()
	}
}

// Allows reports whether a retry after wait still fits in the budget.
func (b *Budget) Allows(wait time.Duration) bool {
	return b.Left() > wait
}
