package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/bkit"
)

// decoder reads a build's JSON message stream.
type decoder struct {
	steps   *bkit.Steps
	imageID string
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
	d := &decoder{steps: bkit.NewSteps(p)}
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
	d.steps.Flush()
	if streamErr != nil {
		return "", d.steps.Failed(streamErr)
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
	d.steps.Update(resp.Vertexes, resp.Logs)
	return nil
}
