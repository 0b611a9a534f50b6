package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Fault is one kind of failure injected into matching requests.
type Fault struct {
	// Which requests: Method ("" for any), Path (a pattern for the URL path,
	// nil for any) and, for the ECR API, Operation (the X-Amz-Target's
	// operation, "" for any).
	Method    string
	Path      *regexp.Regexp
	Operation string
	Body      *regexp.Regexp // a pattern the request body must match, nil for any

	// What happens: Status answers that status (with an ECR error body of
	// type ECRError when it is set, else an OCI error body); Reset closes the
	// connection with a TCP reset before answering; Delay waits first.
	Status   int
	ECRError string
	Reset    bool
	Delay    time.Duration

	// Times is how many matching requests fail, in a row; 0 means all.
	Times int
}

// Faults injects failures into an HTTP handler's traffic, for the project's
// fault tests: real parts cannot fail on demand.
type Faults struct {
	mu     sync.Mutex
	faults []*faultState
	hits   int
}

type faultState struct {
	Fault
	done int
}

// Add starts injecting f.
func (fs *Faults) Add(f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faults = append(fs.faults, &faultState{Fault: f})
}

// Clear stops every fault.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.faults = nil
}

// Injected is how many requests were failed so far.
func (fs *Faults) Injected() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.hits
}

func (fs *Faults) match(r *http.Request) *Fault {
	var body []byte
	if r.Body != nil && r.ContentLength >= 0 && r.ContentLength < 1<<20 && r.Header.Get("X-Amz-Target") != "" {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	for _, f := range fs.faults {
		if (f.Method != "" && f.Method != r.Method) || (f.Path != nil && !f.Path.MatchString(r.URL.Path)) || (f.Operation != "" && f.Operation != op) || (f.Body != nil && !f.Body.Match(body)) {
			continue
		}
		if f.Times > 0 && f.done >= f.Times {
			continue
		}
		f.done++
		fs.hits++
		copy := f.Fault
		return &copy
	}
	return nil
}

// Wrap puts the faults in front of next.
func (fs *Faults) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := fs.match(r)
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case f.Reset:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					if tc, ok := conn.(*net.TCPConn); ok {
						tc.SetLinger(0) // a reset, not an orderly close
					}
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case f.ECRError != "":
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.Header().Set("X-Amzn-ErrorType", f.ECRError)
			w.WriteHeader(f.Status)
			fmt.Fprintf(w, `{"__type":%q,"message":"injected fault"}`, f.ECRError)
		case f.Status != 0:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			fmt.Fprintf(w, `{"errors":[{"code":"UNAVAILABLE","message":"injected fault: %d"}]}`, f.Status)
		default:
			next.ServeHTTP(w, r)
		}
	})
}
