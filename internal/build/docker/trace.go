package docker

import (
	"errors"
	"time"

	"github.com/org/ms-build-action/internal/build/bkit"
	"google.golang.org/protobuf/encoding/protowire"
)

// The engine sends BuildKit's progress as moby.buildkit.trace aux messages:
// protobuf-encoded StatusResponse messages of BuildKit's control API
// (api/services/control/control.proto). Importing that package links the
// whole gRPC stack (8 MB of a 22 MB binary) for one message type, so the few
// fields the progress display reads are decoded here with protowire; the
// tests encode with BuildKit's own generated code.

// traceVertex is control.Vertex: digest=1, name=3, cached=4, started=5,
// completed=6, error=7.
type traceVertex = bkit.Vertex

// traceLog is control.VertexLog: vertex=1, msg=4.
type traceLog = bkit.VertexLog

// traceStatus is control.StatusResponse: vertexes=1, logs=3.
type traceStatus struct {
	Vertexes []traceVertex
	Logs     []traceLog
}

var errTrace = errors.New("malformed BuildKit status message")

// fields calls f for each field of a protobuf message, skipping those f does
// not consume (it returns false).
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, b []byte) (int, bool)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errTrace
		}
		b = b[n:]
		if m, ok := f(num, typ, b); ok {
			if m < 0 {
				return errTrace
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return errTrace
		}
		b = b[m:]
	}
	return nil
}

func decodeTrace(b []byte) (traceStatus, error) {
	var st traceStatus
	var inner error
	err := fields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, bool) {
		if typ != protowire.BytesType || (num != 1 && num != 3) {
			return 0, false
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return n, true
		}
		if num == 1 {
			vx, err := decodeVertex(v)
			inner = errors.Join(inner, err)
			st.Vertexes = append(st.Vertexes, vx)
		} else {
			l, err := decodeLog(v)
			inner = errors.Join(inner, err)
			st.Logs = append(st.Logs, l)
		}
		return n, true
	})
	return st, errors.Join(err, inner)
}

func decodeVertex(b []byte) (traceVertex, error) {
	var v traceVertex
	var inner error
	err := fields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, bool) {
		switch {
		case typ == protowire.VarintType && num == 4:
			x, n := protowire.ConsumeVarint(b)
			v.Cached = x != 0
			return n, true
		case typ != protowire.BytesType:
			return 0, false
		}
		s, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return n, true
		}
		switch num {
		case 1:
			v.Digest = string(s)
		case 3:
			v.Name = string(s)
		case 7:
			v.Error = string(s)
		case 5, 6:
			t, err := decodeTimestamp(s)
			inner = errors.Join(inner, err)
			if num == 5 {
				v.Started = t
			} else {
				v.Completed = t
			}
		}
		return n, true
	})
	return v, errors.Join(err, inner)
}

func decodeLog(b []byte) (traceLog, error) {
	var l traceLog
	err := fields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, bool) {
		if typ != protowire.BytesType || (num != 1 && num != 4) {
			return 0, false
		}
		s, n := protowire.ConsumeBytes(b)
		if num == 1 {
			l.Vertex = string(s)
		} else {
			l.Msg = append([]byte(nil), s...)
		}
		return n, true
	})
	return l, err
}

// decodeTimestamp decodes google.protobuf.Timestamp: seconds=1, nanos=2.
func decodeTimestamp(b []byte) (time.Time, error) {
	var sec, nsec int64
	err := fields(b, func(num protowire.Number, typ protowire.Type, b []byte) (int, bool) {
		if typ != protowire.VarintType || (num != 1 && num != 2) {
			return 0, false
		}
		x, n := protowire.ConsumeVarint(b)
		if num == 1 {
			sec = int64(x)
		} else {
			nsec = int64(int32(x))
		}
		return n, true
	})
	return time.Unix(sec, nsec).UTC(), err
}
