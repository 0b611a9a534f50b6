package dockerfile

import (
	"regexp"
	"strconv"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// stepPrefix is how BuildKit names a Dockerfile step: "[build 3/4] RUN ...",
// "[2/3] COPY ..." when the Dockerfile has one stage.
var stepPrefix = regexp.MustCompile(`^\[(?:(\S+) )?(\d+)/(\d+)\] `)

// StepLine returns the Dockerfile line of a step BuildKit names, so that a
// failing step can point at its instruction. BuildKit numbers a stage's FROM
// (when it is an image, not a stage) and its ADD, COPY, RUN and WORKDIR
// instructions; other instructions make no step.
func (d *Dockerfile) StepLine(step string) (int, bool) {
	m := stepPrefix.FindStringSubmatch(step)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(m[2])
	s := d.stepStage(m[1])
	if s == nil {
		return 0, false
	}
	stages, err := d.instructionStages()
	if err != nil {
		return 0, false
	}
	k := 0
	if s.Parent < 0 && s.Base != "scratch" {
		if k++; k == n {
			return s.Line, true
		}
	}
	for _, c := range stages[s.Index].Commands {
		switch c.(type) {
		case *instructions.AddCommand, *instructions.CopyCommand, *instructions.RunCommand, *instructions.WorkdirCommand:
			if k++; k == n {
				return toLineRange(c.Location()).start, true
			}
		}
	}
	return 0, false
}

// StepStage returns the stage of a step BuildKit names, and whether the step
// is the last one BuildKit numbers in it: once that step is done, so is the
// stage (a step runs after the steps it follows).
func (d *Dockerfile) StepStage(step string) (*Stage, bool) {
	m := stepPrefix.FindStringSubmatch(step)
	if m == nil {
		return nil, false
	}
	s := d.stepStage(m[1])
	return s, s != nil && m[2] == m[3]
}

// stepStage finds the stage a step's prefix names: "" when the Dockerfile
// has one stage, "stage-N" for an unnamed stage.
func (d *Dockerfile) stepStage(name string) *Stage {
	if name == "" {
		if len(d.Stages) == 1 {
			return &d.Stages[0]
		}
		return nil
	}
	for i := range d.Stages {
		st := &d.Stages[i]
		if st.Name == name || (st.Name == "" && name == "stage-"+strconv.Itoa(st.Index)) {
			return st
		}
	}
	return nil
}
