package bkit

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/org/ms-build-action/internal/build"
)

// Both builders report BuildKit's progress as vertexes (a step, by digest)
// and their logs: the engine in its JSON stream, a standalone BuildKit in
// its status channel. Steps turns those updates into a build's Progress.

// MaxStepLog is how much of a step's output is kept for its folded section
// and its error; the tail is kept, as that is where failures are.
const MaxStepLog = 1 << 20

// Vertex is one update of a BuildKit vertex.
type Vertex struct {
	Digest, Name, Error string
	Cached              bool
	Started, Completed  time.Time
}

// VertexLog is output a vertex printed.
type VertexLog struct {
	Vertex string
	Msg    []byte
}

// stepState tracks one vertex across the updates that mention it.
type stepState struct {
	build.Step
	announced, done bool
	cut             int // bytes of log dropped from the front
}

// Steps tracks a build's vertexes and tells its Progress of each step once
// it starts and once it ends.
type Steps struct {
	progress build.Progress
	steps    map[string]*stepState
	order    []string
	failed   *stepState
}

// NewSteps returns a tracker that reports to p.
func NewSteps(p build.Progress) *Steps {
	return &Steps{progress: p, steps: map[string]*stepState{}}
}

// Update takes one status message's vertexes and logs.
func (d *Steps) Update(vs []Vertex, logs []VertexLog) {
	for _, v := range vs {
		s := d.step(v.Digest)
		s.Name = v.Name
		// A step taken from a remote cache is reported cached, then again,
		// not cached, while its layers are pulled for the steps after it:
		// it still did not run.
		s.Cached = s.Cached || v.Cached
		s.Started, s.Completed = v.Started, v.Completed
		if v.Error != "" {
			s.Err = v.Error
			if d.failed == nil || (isCancel(d.failed.Err) && !isCancel(v.Error)) {
				d.failed = s
			}
		}
		if !s.announced && !s.Started.IsZero() && !s.Cached {
			s.announced = true
			d.progress.StepStarted(s.Step)
		}
	}
	for _, l := range logs {
		s := d.step(l.Vertex)
		s.Log = append(s.Log, l.Msg...)
		if over := len(s.Log) - MaxStepLog; over > 0 {
			s.cut += over
			s.Log = append(s.Log[:0], s.Log[over:]...)
		}
	}
	for _, id := range d.order {
		if s := d.steps[id]; !s.done && (!s.Completed.IsZero() || s.Err != "") {
			d.finish(s)
		}
	}
}

// isCancel tells a step that was stopped because another failed.
func isCancel(err string) bool { return strings.Contains(err, "context canceled") }

func (d *Steps) step(id string) *stepState {
	s, ok := d.steps[id]
	if !ok {
		s = &stepState{}
		d.steps[id] = s
		d.order = append(d.order, id)
	}
	return s
}

func (d *Steps) finish(s *stepState) {
	s.done = true
	if s.cut > 0 {
		s.Log = append([]byte(fmt.Sprintf("[%d bytes of earlier output cut]\n", s.cut)), s.Log...)
	}
	d.progress.StepDone(s.Step)
}

// Flush reports the steps the status left unfinished (a failed or
// cancelled build), so that their logs are shown.
func (d *Steps) Flush() {
	for _, id := range d.order {
		if s := d.steps[id]; !s.done && s.announced {
			d.finish(s)
		}
	}
}

// Failed turns the error a build ended with into a *build.StepError that names
// the failing step, when a step failed; else the builder's message.
func (d *Steps) Failed(err error) error {
	if d.failed != nil {
		return &build.StepError{Step: d.failed.Name, Msg: CleanError(err.Error(), d.failed.Err)}
	}
	return fmt.Errorf("building: %s", CleanError(err.Error(), ""))
}

var solvePrefix = regexp.MustCompile(`^(failed to solve|failed to compute cache key|executor failed running)[^:]*: `)

// CleanError keeps the useful part of a BuildKit error: the vertex's own
// error when it has one, without "failed to solve: " wrappers.
func CleanError(msg, vertex string) string {
	if vertex != "" {
		msg = vertex
	}
	for {
		m := solvePrefix.FindString(msg)
		if m == "" {
			return msg
		}
		msg = msg[len(m):]
	}
}
