package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	controlapi "github.com/moby/buildkit/api/services/control"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/bkit"
)

// stream writes engine messages as the engine does: one JSON object each.
type stream struct {
	t *testing.T
	b bytes.Buffer
}

func (s *stream) msg(v any) {
	s.t.Helper()
	if err := json.NewEncoder(&s.b).Encode(v); err != nil {
		s.t.Fatal(err)
	}
}

func (s *stream) trace(resp *controlapi.StatusResponse) {
	s.t.Helper()
	dt, err := resp.MarshalVT()
	if err != nil {
		s.t.Fatal(err)
	}
	aux, _ := json.Marshal(dt) // base64, as the engine sends it
	s.msg(map[string]any{"id": "moby.buildkit.trace", "aux": json.RawMessage(aux)})
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func ts(sec int) *timestamppb.Timestamp {
	return timestamppb.New(t0.Add(time.Duration(sec) * time.Second))
}

// recorder keeps what a build reports.
type recorder struct{ started, done []build.Step }

func (r *recorder) StepStarted(s build.Step) { r.started = append(r.started, s) }
func (r *recorder) StepDone(s build.Step)    { r.done = append(r.done, s) }

func names(steps []build.Step) []string {
	var n []string
	for _, s := range steps {
		state := "run"
		switch {
		case s.Err != "":
			state = "failed"
		case s.Cached:
			state = "cached"
		}
		n = append(n, s.Name+" "+state)
	}
	return n
}

func TestDecodeBuild(t *testing.T) {
	t.Parallel()
	s := &stream{t: t}
	s.msg(map[string]any{"stream": "legacy text is ignored\n"})
	s.trace(&controlapi.StatusResponse{Vertexes: []*controlapi.Vertex{
		{Digest: "sha256:a", Name: "[build 1/3] FROM msb-test/sdk:1", Cached: true, Started: ts(0), Completed: ts(0)},
		{Digest: "sha256:b", Name: "[build 2/3] RUN restore deps.txt", Started: ts(1)},
	}})
	s.trace(&controlapi.StatusResponse{Logs: []*controlapi.VertexLog{
		{Vertex: "sha256:b", Msg: []byte("restoring left-pad\n")},
		{Vertex: "sha256:b", Msg: []byte("restored 1 packages\n")},
	}})
	s.trace(&controlapi.StatusResponse{Vertexes: []*controlapi.Vertex{
		{Digest: "sha256:b", Name: "[build 2/3] RUN restore deps.txt", Started: ts(1), Completed: ts(4)},
	}})
	s.msg(map[string]any{"id": "moby.image.id", "aux": map[string]string{"ID": "sha256:img"}})

	var rec recorder
	id, err := decodeBuild(&s.b, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := id, "sha256:img"; got != want {
		t.Errorf("image id = %q, want %q", got, want)
	}
	if diff := cmp.Diff([]string{"[build 2/3] RUN restore deps.txt run"}, names(rec.started)); diff != "" {
		t.Errorf("started (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"[build 1/3] FROM msb-test/sdk:1 cached", "[build 2/3] RUN restore deps.txt run"}, names(rec.done)); diff != "" {
		t.Errorf("done (-want +got):\n%s", diff)
	}
	if got, want := string(rec.done[1].Log), "restoring left-pad\nrestored 1 packages\n"; got != want {
		t.Errorf("log = %q, want %q", got, want)
	}
	if got, want := rec.done[1].Duration(), 3*time.Second; got != want {
		t.Errorf("duration = %v, want %v", got, want)
	}
}

func TestDecodeBuildFailure(t *testing.T) {
	t.Parallel()
	s := &stream{t: t}
	s.trace(&controlapi.StatusResponse{Vertexes: []*controlapi.Vertex{
		{Digest: "sha256:a", Name: "[build 3/3] RUN compile /out", Started: ts(0)},
		{Digest: "sha256:c", Name: "[other 2/2] RUN sleep 100", Started: ts(0)},
	}})
	s.trace(&controlapi.StatusResponse{Logs: []*controlapi.VertexLog{{Vertex: "sha256:a", Msg: []byte("cat: can't open 'message.txt'\n")}}})
	s.trace(&controlapi.StatusResponse{Vertexes: []*controlapi.Vertex{
		{Digest: "sha256:c", Name: "[other 2/2] RUN sleep 100", Started: ts(0), Completed: ts(1), Error: "context canceled"},
		{Digest: "sha256:a", Name: "[build 3/3] RUN compile /out", Started: ts(0), Completed: ts(1), Error: `process "/bin/sh -c compile /out" did not complete successfully: exit code: 1`},
	}})
	s.msg(map[string]any{"errorDetail": map[string]any{"message": `failed to solve: process "/bin/sh -c compile /out" did not complete successfully: exit code: 1`}})

	var rec recorder
	_, err := decodeBuild(&s.b, &rec)
	var se *build.StepError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want a *StepError", err)
	}
	if got, want := se.Step, "[build 3/3] RUN compile /out"; got != want {
		t.Errorf("failing step = %q, want %q (not the cancelled one)", got, want)
	}
	if got, want := se.Msg, `process "/bin/sh -c compile /out" did not complete successfully: exit code: 1`; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	i := slices.IndexFunc(rec.done, func(s build.Step) bool { return s.Name == se.Step })
	if i < 0 || !strings.Contains(string(rec.done[i].Log), "can't open") {
		t.Errorf("the failing step's log was not reported: %+v", rec.done)
	}
}

func TestDecodeBuildErrorWithoutTrace(t *testing.T) {
	t.Parallel()
	s := &stream{t: t}
	s.msg(map[string]any{"errorDetail": map[string]any{"message": "failed to read dockerfile: open Dockerfile: no such file"}})
	_, err := decodeBuild(&s.b, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("error = %v, want the engine's message", err)
	}
}

func TestDecodeBuildNoImage(t *testing.T) {
	t.Parallel()
	if _, err := decodeBuild(strings.NewReader(""), &recorder{}); err == nil {
		t.Error("an empty stream succeeded, want an error: a build that says nothing did not build")
	}
	if _, err := decodeBuild(strings.NewReader(`{"stream":"x"`), &recorder{}); err == nil {
		t.Error("a cut stream succeeded, want an error")
	}
}

func TestDecodeBuildKeepsLogTail(t *testing.T) {
	t.Parallel()
	s := &stream{t: t}
	s.trace(&controlapi.StatusResponse{Vertexes: []*controlapi.Vertex{{Digest: "v", Name: "[b 1/1] RUN noisy", Started: ts(0)}}})
	chunk := bytes.Repeat([]byte("x"), 256<<10)
	for range 6 {
		s.trace(&controlapi.StatusResponse{Logs: []*controlapi.VertexLog{{Vertex: "v", Msg: chunk}}})
	}
	s.trace(&controlapi.StatusResponse{Logs: []*controlapi.VertexLog{{Vertex: "v", Msg: []byte("the end\n")}}})
	s.trace(&controlapi.StatusResponse{Vertexes: []*controlapi.Vertex{{Digest: "v", Name: "[b 1/1] RUN noisy", Started: ts(0), Completed: ts(1)}}})
	s.msg(map[string]any{"id": "moby.image.id", "aux": map[string]string{"ID": "sha256:img"}})
	var rec recorder
	if _, err := decodeBuild(&s.b, &rec); err != nil {
		t.Fatal(err)
	}
	log := rec.done[0].Log
	if len(log) > bkit.MaxStepLog+100 || !bytes.HasSuffix(log, []byte("the end\n")) || !bytes.HasPrefix(log, []byte("[")) {
		t.Errorf("log of %d bytes, starting %q: want the tail, at most %d bytes, with a note of what was cut", len(log), log[:40], bkit.MaxStepLog)
	}
}

func TestDecodePush(t *testing.T) {
	t.Parallel()
	const dgst = "sha256:4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928"
	tests := []struct {
		name    string
		msgs    []any
		want    build.Pushed
		wantErr string
	}{{
		name: "status line",
		msgs: []any{
			map[string]any{"status": "Pushed", "id": "abc"},
			map[string]any{"status": "msb-staging: digest: " + dgst + " size: 528"},
		},
		want: build.Pushed{Digest: dgst, Size: 528},
	}, {
		name: "aux wins",
		msgs: []any{
			map[string]any{"status": "t: digest: " + dgst + " size: 528"},
			map[string]any{"aux": map[string]any{"Tag": "t", "Digest": dgst, "Size": 528}},
		},
		want: build.Pushed{Digest: dgst, Size: 528},
	}, {
		name:    "error in the stream",
		msgs:    []any{map[string]any{"status": "Preparing"}, map[string]any{"errorDetail": map[string]any{"message": "unauthorized: authentication required"}, "error": "unauthorized: authentication required"}},
		wantErr: "unauthorized: authentication required",
	}, {
		name:    "no digest",
		msgs:    []any{map[string]any{"status": "Preparing"}},
		wantErr: "no digest",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &stream{t: t}
			for _, m := range tt.msgs {
				s.msg(m)
			}
			got, err := decodePush(&s.b)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("decodePush() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeTraceMalformed(t *testing.T) {
	t.Parallel()
	good, err := (&controlapi.StatusResponse{Vertexes: []*controlapi.Vertex{{Digest: "d", Name: "n", Started: ts(1)}}}).MarshalVT()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(good); i++ {
		// Every cut of a valid message either decodes or errors: never panics.
		_, _ = decodeTrace(good[:i])
	}
	if _, err := decodeTrace([]byte{0x0a, 0x05, 0x01}); err == nil {
		t.Error("a field longer than its message decoded, want an error")
	}
}

func FuzzDecodeTrace(f *testing.F) {
	good, _ := (&controlapi.StatusResponse{
		Vertexes: []*controlapi.Vertex{{Digest: "d", Name: "[b 1/1] RUN x", Cached: true, Started: ts(1), Completed: ts(2), Error: "e"}},
		Logs:     []*controlapi.VertexLog{{Vertex: "d", Msg: []byte("log")}},
	}).MarshalVT()
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeTrace(b)
		if err == nil {
			var want controlapi.StatusResponse
			if want.UnmarshalVT(b) == nil && len(want.Vertexes) != len(st.Vertexes) {
				t.Errorf("decoded %d vertexes, BuildKit decodes %d", len(st.Vertexes), len(want.Vertexes))
			}
		}
	})
}
