package pipeline_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/pipeline"
)

// TestSizingOverlapsRuntimeBuild: after a cache hit the build stage is built
// again only to be sized. That starts as soon as the runtime build reports
// the build stage's last step, not after the runtime build: the runtime
// build here returns only once the sizing build has started.
func TestSizingOverlapsRuntimeBuild(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"v1"} })))

	e.write("main.go", "package main\n\nfunc main() { println() }\n")
	b := newBuilder(e.reg)
	sizing := make(chan struct{})
	var once sync.Once
	b.steps = map[string][]string{"runtime": {"[build 2/2] RUN go build -o /out/app ."}}
	b.then = func(ctx context.Context, s build.Spec) {
		switch s.Target {
		case "build":
			once.Do(func() { close(sizing) })
		case "runtime":
			select {
			case <-sizing:
			case <-ctx.Done():
			case <-time.After(30 * time.Second): // a failure detector, not a wait for work
				t.Error("the build stage's sizing did not start before the runtime build ended")
			}
		}
	}
	o := e.run(t.Context(), b, e.input(func(in *pipeline.Input) { in.Tags = []string{"v2"} }))
	mustSucceed(t, o)
	if !o.res.CacheHit || o.res.BuildStageSizeBytes != 500_000 {
		t.Errorf("cache-hit %v, build-stage-size-bytes %d; want a hit, sized", o.res.CacheHit, o.res.BuildStageSizeBytes)
	}
}

// TestStepsShownOnce: a step is shown once in a run, though the runtime's
// build meets the build stage's steps again; BuildKit's quick bookkeeping is
// not shown, and a quick step is not announced as running.
func TestStepsShownOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	b := newBuilder(e.reg)
	b.steps = map[string][]string{
		"build":   {"[internal] load build definition from Dockerfile"},
		"runtime": {"[internal] load build definition from Dockerfile", "[build 1/1] RUN make"},
	}
	o := e.run(t.Context(), b, e.input())
	mustSucceed(t, o)
	log := o.log.text()
	if n := strings.Count(log, "[build 1/1] RUN make"); n != 1 {
		t.Errorf("the build stage's step is shown %d times, want once:\n%s", n, log)
	}
	for _, hidden := range []string{"[internal]", "Running "} {
		if strings.Contains(log, hidden) {
			t.Errorf("the log shows %q:\n%s", hidden, log)
		}
	}
	if !strings.Contains(log, "Building runtime stage runtime") {
		t.Errorf("the log does not name the runtime stage:\n%s", log)
	}
}
