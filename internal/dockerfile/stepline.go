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
	var s *Stage
	switch {
	case m[1] == "" && len(d.Stages) == 1:
		s = &d.Stages[0]
	case m[1] != "":
		for i := range d.Stages {
			st := &d.Stages[i]
			if st.Name == m[1] || (st.Name == "" && m[1] == "stage-"+strconv.Itoa(st.Index)) {
				s = st
			}
		}
	}
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
