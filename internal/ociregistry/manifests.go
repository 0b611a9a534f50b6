package ociregistry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// journal keeps the manifests a registry stores in a file of its directory,
// so that a registry started again on the directory serves them: the
// registry holds manifests in memory only. Every manifest PUT and DELETE
// that succeeds rewrites the file (manifests are small, and few).
type journal struct {
	path string

	mu      sync.Mutex
	entries []manifestEntry // in the order they were put
	err     error           // the first failure to save them
}

// manifestEntry is one manifest under one reference (a tag or its digest).
type manifestEntry struct {
	Repository string `json:"repository"`
	Reference  string `json:"reference"`
	MediaType  string `json:"mediaType"`
	Body       []byte `json:"body"`
}

func (e manifestEntry) digest() string {
	sum := sha256.Sum256(e.Body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// openJournal reads the journal in dir; a missing file is an empty one.
func openJournal(dir string) (*journal, error) {
	j := &journal{path: filepath.Join(dir, "manifests.json")}
	b, err := os.ReadFile(j.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return j, nil
	case err != nil:
		return nil, fmt.Errorf("reading its manifests: %w", err)
	}
	if err := json.Unmarshal(b, &j.entries); err != nil {
		return nil, fmt.Errorf("reading its manifests (%s is damaged: remove the directory to start afresh): %w", j.path, err)
	}
	return j, nil
}

// replay puts the journal's manifests into a registry's handler, in order.
func (j *journal) replay(h http.Handler) error {
	for _, e := range j.entries {
		req := httptest.NewRequest(http.MethodPut, "/v2/"+e.Repository+"/manifests/"+e.Reference, bytes.NewReader(e.Body))
		req.Header.Set("Content-Type", e.MediaType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			return fmt.Errorf("restoring manifest %s:%s: the registry answered %d %s", e.Repository, e.Reference, rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
		}
	}
	return nil
}

// record wraps a registry's handler: each manifest it stores or deletes is
// written to the journal.
func (j *journal) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := ParseAPIPath(r.URL.Path)
		if !ok || p.Kind != "manifests" || (r.Method != http.MethodPut && r.Method != http.MethodDelete) {
			next.ServeHTTP(w, r)
			return
		}
		var body []byte
		if r.Method == http.MethodPut {
			b, err := io.ReadAll(io.LimitReader(r.Body, maxManifest+1))
			if err != nil || len(b) > maxManifest {
				WriteError(w, http.StatusBadRequest, "MANIFEST_INVALID", "the manifest could not be read or is too large", "")
				return
			}
			body = b
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		sw := &StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.Status/100 != 2 {
			return
		}
		e := manifestEntry{Repository: p.Name, Reference: p.Ref, MediaType: r.Header.Get("Content-Type"), Body: body}
		// The registry answered already: a manifest the journal failed to
		// save is served until the registry stops, which reports it.
		j.apply(r.Method, e)
	})
}

// maxManifest bounds a manifest the journal reads, as registries do (4 MiB).
const maxManifest = 4 << 20

// apply records a PUT or a DELETE and rewrites the file.
func (j *journal) apply(method string, e manifestEntry) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.applyLocked(method, e); err != nil && j.err == nil {
		j.err = err
	}
}

// failed returns the first failure to save the manifests.
func (j *journal) failed() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

func (j *journal) applyLocked(method string, e manifestEntry) error {
	same := func(o manifestEntry) bool {
		if o.Repository != e.Repository {
			return false
		}
		// Deleting a digest deletes the tags that point at it too.
		return o.Reference == e.Reference || (method == http.MethodDelete && o.digest() == e.Reference)
	}
	j.entries = slices.DeleteFunc(j.entries, same)
	if method == http.MethodPut {
		j.entries = append(j.entries, e)
	}
	b, err := json.Marshal(j.entries)
	if err != nil {
		return err
	}
	tmp := j.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("saving its manifests: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("saving its manifests: %w", err)
	}
	return nil
}

// StatusRecorder remembers the status a handler answered with, and passes
// everything on (flushes too, for handlers that stream).
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

func (w *StatusRecorder) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusRecorder) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *StatusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush on.
func (w *StatusRecorder) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }
