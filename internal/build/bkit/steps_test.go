package bkit

import (
	"testing"
	"time"

	"github.com/org/ms-build-action/internal/build"
)

// progressLog keeps the steps reported started and done.
type progressLog struct{ started, done []build.Step }

func (p *progressLog) StepStarted(s build.Step) { p.started = append(p.started, s) }
func (p *progressLog) StepDone(s build.Step)    { p.done = append(p.done, s) }

// TestStepsCachedThenPulled: the updates a standalone buildkitd sends for a
// step taken from a registry cache on an empty daemon (seen from v0.2x):
// cached, then, in the same status message, not cached while its layers are
// pulled for the next step. The step is reported once, cached, never
// started.
func TestStepsCachedThenPulled(t *testing.T) {
	t.Parallel()
	var p progressLog
	d := NewSteps(&p)
	t0 := time.Now()
	const name = "[build 4/6] RUN restore requirements.txt"
	d.Update([]Vertex{{Digest: "a", Name: name}}, nil)
	d.Update([]Vertex{
		{Digest: "a", Name: name, Cached: true, Started: t0},
		{Digest: "a", Name: name, Cached: true, Started: t0, Completed: t0},
		{Digest: "a", Name: name, Started: t0},
	}, nil)
	d.Update([]Vertex{{Digest: "a", Name: name, Started: t0, Completed: t0.Add(100 * time.Millisecond)}}, nil)
	d.Update([]Vertex{{Digest: "a", Name: name, Started: t0.Add(time.Second)}}, nil)
	d.Flush()
	if len(p.started) != 0 {
		t.Errorf("the cached step was reported started: %+v", p.started)
	}
	if len(p.done) != 1 || !p.done[0].Cached || p.done[0].Name != name {
		t.Errorf("done = %+v, want the step once, cached", p.done)
	}
}
