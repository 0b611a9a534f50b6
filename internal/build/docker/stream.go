package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/org/ms-build-action/internal/build"
)

// maxStepLog is how much of a step's output is kept for its folded section
// and its error; the tail is kept, as that is where failures are.
const maxStepLog = 1 << 20

// stepState tracks one vertex across the trace messages that mention it.
type stepState struct {
	build.Step
	announced, done bool
	cut             int // bytes of log dropped from the front
}

// decoder reads a build's JSON message stream.
type decoder struct {
	progress build.Progress
	steps    map[string]*stepState
	order    []string
	imageID  string
	failed   *stepState
}

// message is one message of an engine's JSON stream. The API module's
// jsonstream.Message has no "error" field: engines older than the
// errorDetail field send only that one.
type message struct {
	jsonstream.Message
	ErrorMessage string `json:"error,omitempty"`
}

// readStream reads an engine's JSON message stream to its end, calling f
// for each message that is not an error, and returns the first error the
// stream carries (errorDetail), if any: the engine reports failures in the
// stream, not in the HTTP status.
func readStream(r io.Reader, f func(m *message) error) (streamErr, err error) {
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return streamErr, nil
			}
			return streamErr, fmt.Errorf("reading the engine's stream: %w", err)
		}
		if m.Error != nil || m.ErrorMessage != "" {
			msg := m.ErrorMessage
			if m.Error != nil && m.Error.Message != "" {
				msg = m.Error.Message
			}
			if streamErr == nil {
				streamErr = errors.New(msg)
			}
			continue
		}
		if err := f(&m); err != nil {
			return streamErr, err
		}
	}
}

// decodeBuild reads the stream to its end. It returns the image id, or the
// build's error, naming the failing step when the trace names one.
func decodeBuild(r io.Reader, p build.Progress) (string, error) {
	d := &decoder{progress: p, steps: map[string]*stepState{}}
	streamErr, err := readStream(r, func(m *message) error {
		if m.Aux == nil {
			return nil
		}
		switch m.ID {
		case "moby.buildkit.trace":
			return d.trace(*m.Aux)
		case "moby.image.id":
			var aux struct{ ID string }
			if err := json.Unmarshal(*m.Aux, &aux); err == nil {
				d.imageID = aux.ID
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	d.flush()
	if streamErr != nil {
		if d.failed != nil {
			return "", &build.StepError{Step: d.failed.Name, Msg: cleanEngineError(streamErr.Error(), d.failed.Err)}
		}
		return "", fmt.Errorf("building: %s", streamErr)
	}
	if d.imageID == "" {
		return "", errors.New("building: the engine reported no image id")
	}
	return d.imageID, nil
}

func (d *decoder) trace(aux json.RawMessage) error {
	var dt []byte
	if err := json.Unmarshal(aux, &dt); err != nil {
		return fmt.Errorf("decoding the build trace: %w", err)
	}
	resp, err := decodeTrace(dt)
	if err != nil {
		return fmt.Errorf("decoding the build trace: %w", err)
	}
	for _, v := range resp.Vertexes {
		s := d.step(v.Digest)
		s.Name = v.Name
		s.Cached = v.Cached
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
	for _, l := range resp.Logs {
		s := d.step(l.Vertex)
		s.Log = append(s.Log, l.Msg...)
		if over := len(s.Log) - maxStepLog; over > 0 {
			s.cut += over
			s.Log = append(s.Log[:0], s.Log[over:]...)
		}
	}
	for _, id := range d.order {
		if s := d.steps[id]; !s.done && (!s.Completed.IsZero() || s.Err != "") {
			d.finish(s)
		}
	}
	return nil
}

// isCancel tells a step that was stopped because another failed.
func isCancel(err string) bool { return strings.Contains(err, "context canceled") }

func (d *decoder) step(id string) *stepState {
	s, ok := d.steps[id]
	if !ok {
		s = &stepState{}
		d.steps[id] = s
		d.order = append(d.order, id)
	}
	return s
}

func (d *decoder) finish(s *stepState) {
	s.done = true
	if s.cut > 0 {
		s.Log = append([]byte(fmt.Sprintf("[%d bytes of earlier output cut]\n", s.cut)), s.Log...)
	}
	d.progress.StepDone(s.Step)
}

// flush reports steps the stream left unfinished (a failed or cancelled
// build), so their logs are shown.
func (d *decoder) flush() {
	for _, id := range d.order {
		if s := d.steps[id]; !s.done && s.announced {
			d.finish(s)
		}
	}
}

var solvePrefix = regexp.MustCompile(`^(failed to solve|failed to compute cache key|executor failed running)[^:]*: `)

// cleanEngineError keeps the useful part of a BuildKit error: the vertex's
// own error when it has one, without "failed to solve: " wrappers.
func cleanEngineError(stream, vertex string) string {
	msg := stream
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
