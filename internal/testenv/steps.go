package testenv

import (
	"strings"
	"sync"

	"github.com/org/ms-build-action/internal/build"
)

// Steps records what a build reports of its steps (a build.Progress), for
// either builder's tests.
type Steps struct {
	mu            sync.Mutex
	Started, Done []build.Step
}

func (r *Steps) StepStarted(s build.Step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Started = append(r.Started, s)
}

func (r *Steps) StepDone(s build.Step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Done = append(r.Done, s)
}

// Step is the first done step whose name holds part.
func (r *Steps) Step(part string) (build.Step, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.Done {
		if strings.Contains(s.Name, part) {
			return s, true
		}
	}
	return build.Step{}, false
}
