package ecrlocal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/org/ms-build-action/internal/ociregistry"
)

// Gate returns a handler that lets a request reach the registry handler next only as ECR's registry
// would: with Basic credentials of user AWS and a valid password issued by GetAuthorizationToken, for
// a repository created with CreateRepository, and without moving an immutable tag. It records when
// manifests are pushed (imagePushedAt). It never logs or returns a password.
func (s *Server) Gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &ociregistry.StatusRecorder{ResponseWriter: w}
		s.gate(rec, r, next)
		s.log.Debug("registry request", "method", r.Method, "path", r.URL.Path, "status", rec.Status)
	})
}

// gate serves one request, answering itself or passing it to next; the int is for call sites that
// answer and return in one statement.
func (s *Server) gate(w *ociregistry.StatusRecorder, r *http.Request, next http.Handler) int {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.URL.Path != "/v2" && !strings.HasPrefix(r.URL.Path, "/v2/") {
		return ociregistry.WriteError(w, http.StatusNotFound, "NOT_FOUND", "not a registry API path", "")
	}
	user, password, ok := r.BasicAuth()
	state := tokenUnknown
	if ok && user == "AWS" {
		state = s.tokens.check(password)
	}
	switch state {
	case tokenExpired:
		return ociregistry.WriteError(w, http.StatusForbidden, "DENIED", "Your authorization token has expired. Reauthenticate and try again.", "")
	case tokenUnknown:
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Basic realm=%q,service="ecr.amazonaws.com"`, s.registryURL+"/"))
		return ociregistry.WriteError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required", "")
	}
	if r.URL.Path == "/v2" || r.URL.Path == "/v2/" {
		next.ServeHTTP(w, r)
		return 0
	}
	if r.URL.Path == "/v2/_catalog" {
		return ociregistry.WriteError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported: this registry does not list repositories; use DescribeRepositories", "")
	}
	p, ok := ociregistry.ParseAPIPath(r.URL.Path)
	if !ok {
		return ociregistry.WriteError(w, http.StatusNotFound, "NAME_INVALID", "invalid repository name or registry API path", "")
	}
	s.mu.Lock()
	repo, exists := s.repos[p.Name]
	locked := exists && p.Kind == "manifests" && r.Method == http.MethodPut && !ociregistry.IsDigest(p.Ref) && repo.tagImmutable(p.Ref)
	s.mu.Unlock()
	if !exists {
		return ociregistry.WriteError(w, http.StatusNotFound, "NAME_UNKNOWN",
			fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", p.Name, s.registryID), "")
	}
	if p.Kind == "tags" && r.Method == http.MethodGet {
		return s.listTags(w, r, next, p.Name)
	}
	if p.Kind != "manifests" || r.Method != http.MethodPut {
		next.ServeHTTP(w, r)
		return 0
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifestBytes+1))
	if err != nil {
		return ociregistry.WriteError(w, http.StatusBadRequest, "MANIFEST_INVALID", "reading the manifest failed", "")
	}
	if len(body) > maxManifestBytes {
		return ociregistry.WriteError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID", "the manifest is too large", "")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if locked && s.exists(r, next, p) {
		return ociregistry.WriteError(w, http.StatusBadRequest, "TAG_INVALID", tagImmutableMessage(p.Name, p.Ref), "")
	}
	next.ServeHTTP(w, r)
	if w.Status >= 200 && w.Status < 300 {
		sum := sha256.Sum256(body)
		s.observe(p.Name, "sha256:"+hex.EncodeToString(sum[:]))
	}
	return 0
}

// listTags passes a tag list request to next, answering an empty list, as ECR does, where the
// registry does not know a created repository yet because nothing was pushed to it.
func (s *Server) listTags(w *ociregistry.StatusRecorder, r *http.Request, next http.Handler, name string) int {
	buf := &bufferWriter{header: http.Header{}}
	next.ServeHTTP(buf, r)
	if buf.status == http.StatusNotFound {
		body, _ := json.Marshal(map[string]any{"name": name, "tags": []string{}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return http.StatusOK
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	w.WriteHeader(buf.status)
	_, _ = w.Write(buf.body.Bytes())
	return 0
}

// exists asks next whether the manifest p refers to exists, with the caller's credentials.
func (s *Server) exists(r *http.Request, next http.Handler, p ociregistry.APIPath) bool {
	probe, err := http.NewRequestWithContext(r.Context(), http.MethodHead, manifestPath(p.Name, p.Ref), nil)
	if err != nil {
		return false
	}
	probe.Host = r.Host
	probe.Header.Set("Authorization", r.Header.Get("Authorization"))
	probe.Header.Set("Accept", manifestAccept)
	w := &discardWriter{header: http.Header{}}
	next.ServeHTTP(w, probe)
	return w.status == http.StatusOK
}

// bufferWriter holds a response of next before the gate passes it on.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.header }

func (w *bufferWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *bufferWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// discardWriter is a ResponseWriter for internal probes.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}
