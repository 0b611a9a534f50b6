package pipeline_test

import (
	"context"
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
