package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/pipeline"
	"github.com/org/ms-build-action/internal/registry"
	"github.com/org/ms-build-action/internal/retry"
)

// runBudget runs the pipeline with a budget for faults of faults; each
// pause between tries moves the clock by pause.
func (e *env) runBudget(b *fakeBuilder, faults, pause time.Duration) outcome {
	e.t.Helper()
	log := &fakeLog{secrets: e.reg.passwords}
	p := &pipeline.Pipeline{Builder: b, Publisher: e.reg, Log: log, Now: e.now, Faults: faults,
		Pause: func(context.Context, int) error { e.clock.Add(int64(pause / time.Second)); return nil }}
	res, err := p.Run(e.t.Context(), e.input())
	return outcome{res, err, log, b}
}

func stagingTries(b *fakeBuilder) (tries int, bounded []bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, p := range b.pushes {
		if strings.Contains(p, ":msb-staging-") {
			tries++
			bounded = append(bounded, b.bounded[i])
		}
	}
	return tries, bounded
}

// TestPushBudget: a push that keeps failing gives up when the run's time for
// faults is spent, even before its tries are; time the engine spent
// retrying layers counts, so that a push it already retried is not tried
// again in full; the first try of a push runs unbounded (a big image may
// take long), every try after a fault under what is left.
func TestPushBudget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		faults    time.Duration
		pause     time.Duration // the clock's move at each pause
		engine    time.Duration // the clock's move inside each failing try (the engine retrying layers)
		wantTries int
	}{
		// A manifest that keeps failing: quick tries, all of them.
		{"quick faults use the tries", 75 * time.Second, time.Second, 0, retry.Tries},
		// Long pauses spend the budget before the tries are used.
		{"budget ends the tries", 60 * time.Second, 40 * time.Second, 0, 3},
		// A layer the engine retried for 60 s: 50 s of it count, and the
		// one try after is cut off at what is left.
		{"engine's retries count", 75 * time.Second, time.Second, 60 * time.Second, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			b := newBuilder(e.reg)
			b.pushFail = func(ref string, try int) error {
				if strings.Contains(ref, ":msb-staging-") {
					e.clock.Add(int64(tc.engine / time.Second))
					return errTransient
				}
				return nil
			}
			o := e.runBudget(b, tc.faults, tc.pause)
			tries, bounded := stagingTries(b)
			if tries != tc.wantTries {
				t.Errorf("pushed %d times, want %d; log:\n%s", tries, tc.wantTries, o.log.text())
			}
			if len(bounded) > 0 && bounded[0] {
				t.Error("the first try ran under a deadline before any fault")
			}
			for i, bd := range bounded[1:] {
				if !bd {
					t.Errorf("try %d after a fault ran without the budget's deadline", i+2)
				}
			}
			if o.err == nil || !strings.Contains(o.err.Error(), "keeps failing") || !strings.Contains(o.err.Error(), "check its status and the network") {
				t.Fatalf("Run() = %v, want one line naming the registry and what to check", o.err)
			}
			if !strings.Contains(o.err.Error(), "123456789012.dkr.ecr.eu-west-1.amazonaws.com") {
				t.Errorf("Run() = %v: the error does not name the registry's host", o.err)
			}
			if e.reg.digestOf("v1") != "" {
				t.Error("v1 was attached though the push failed")
			}
		})
	}
}

// TestPushBudgetTransient: three faults in a row, of each kind a push
// meets, are survived within the budget, with the right digest.
func TestPushBudgetTransient(t *testing.T) {
	t.Parallel()
	for _, fault := range []error{errTransient, registry.ErrAuthExpired} {
		t.Run(fault.Error(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			b := newBuilder(e.reg)
			b.pushFail = func(ref string, try int) error {
				if try <= 3 {
					return fault
				}
				return nil
			}
			o := e.runBudget(b, 0, time.Second)
			mustSucceed(t, o)
			if tries, _ := stagingTries(b); tries != 4 {
				t.Errorf("pushed %d times, want 4", tries)
			}
			if o.res.Digest == "" || o.res.Digest != e.reg.digestOf("v1") {
				t.Errorf("digest %s, registry has %s", o.res.Digest, e.reg.digestOf("v1"))
			}
		})
	}
}

// TestCachePullFault: a cache pull that fails on a fault is tried again
// (the engine does not retry a manifest): three faults in a row still
// give a cache hit. One that keeps failing stops the restore after that
// cache (the others are in the same registry), and the run builds without
// a cache, saying which registry to check.
func TestCachePullFault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		faults    int // in a row; 0 for all
		wantPulls int
		wantHit   bool
	}{
		{"three in a row", 3, 5, true},
		{"persistent", 0, retry.Tries, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			mustSucceed(t, e.run(t.Context(), nil, e.input()))
			e.write("main.go", "package main // changed\n")
			b := newBuilder(e.reg)
			var n atomic.Int32
			b.pullFail = func(ref string) error {
				if n := n.Add(1); tc.faults == 0 || int(n) <= tc.faults {
					return errors.Join(errors.New("pulling "+ref+": received unexpected HTTP status: 503 Service Unavailable"), registry.ErrUnavailable)
				}
				return nil
			}
			o := e.runBudget(b, 0, time.Second)
			mustSucceed(t, o)
			// The build stage's cache and the runtime's are pulled side by
			// side. Each is tried at most retry.Tries times; once one gives
			// up on the registry, the other tries no more. Faults that
			// pass cost one more pull each.
			b.mu.Lock()
			pulls, most, total := map[string]int{}, 0, len(b.pulls)
			for _, p := range b.pulls {
				tag := p[strings.LastIndex(p, ":")+1:]
				pulls[tag]++
				most = max(most, pulls[tag])
			}
			b.mu.Unlock()
			if most > retry.Tries || (tc.wantHit && total != tc.faults+2) || (!tc.wantHit && most != retry.Tries) {
				t.Errorf("pulls %v: want each at most %d times, and %d in all", pulls, retry.Tries, tc.wantPulls)
			}
			if o.res.CacheHit != tc.wantHit {
				t.Errorf("cache hit %v, want %v; log:\n%s", o.res.CacheHit, tc.wantHit, o.log.text())
			}
			if !tc.wantHit && !o.log.has(pipeline.Warning, "123456789012.dkr.ecr.eu-west-1.amazonaws.com keeps failing") {
				t.Errorf("no warning naming the registry:\n%s", o.log.text())
			}
		})
	}
}

// TestBaseResolveFault: a build that failed resolving a base image on a
// registry fault (BuildKit asks once) is run again: three faults in a row
// are survived; one that keeps failing ends the run with one line naming
// the base image and what to check. A refusal is not tried again.
func TestBaseResolveFault(t *testing.T) {
	t.Parallel()
	// As the Docker adapter classifies them (its resolveFault).
	const base = "127.0.0.1:5000/base/busybox:1"
	unavailable := &build.ResolveError{Ref: base, Err: fmt.Errorf("%w: %w", registry.ErrUnavailable,
		&build.StepError{Step: "[internal] load metadata for " + base, Msg: "pulling from host 127.0.0.1:5000 failed with status code [manifests 1]: 503 Service Unavailable"})}
	refused := &build.ResolveError{Ref: base, Err: &build.StepError{Step: "[internal] load metadata for " + base, Msg: "pulling from host 127.0.0.1:5000 failed with status code [manifests 1]: 401 Unauthorized"}}
	for _, tc := range []struct {
		name       string
		err        error
		faults     int // in a row; 0 for all
		wantBuilds int // of the build stage
		wantErr    string
	}{
		{"three in a row", unavailable, 3, 4, ""},
		{"persistent", unavailable, 0, retry.Tries, "the registry of base image 127.0.0.1:5000/base/busybox:1 keeps failing; check its status and the network, then run again (tried 4 times)"},
		{"refusal", refused, 0, 1, "401 Unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			b := newBuilder(e.reg)
			n := 0
			b.buildFail = func(_ context.Context, s build.Spec) error {
				if s.Target != "build" {
					return nil
				}
				if n++; tc.faults == 0 || n <= tc.faults {
					return tc.err
				}
				return nil
			}
			o := e.runBudget(b, 0, time.Second)
			if n != tc.wantBuilds {
				t.Errorf("built the build stage %d times, want %d", n, tc.wantBuilds)
			}
			if tc.wantErr == "" {
				mustSucceed(t, o)
				if o.res.Digest == "" || o.res.Digest != e.reg.digestOf("v1") {
					t.Errorf("digest %s, registry has %s", o.res.Digest, e.reg.digestOf("v1"))
				}
				return
			}
			if o.err == nil || !strings.Contains(o.err.Error(), tc.wantErr) {
				t.Errorf("Run() = %v, want an error saying %q", o.err, tc.wantErr)
			}
		})
	}
}
