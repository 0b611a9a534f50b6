package ociregistry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// The distribution API as the registry's own handlers (BlobStore's upload
// API) read and answer it; internal/testenv/ecrlocal, which fronts the same
// registry, uses them too.

var digestPattern = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// IsDigest says whether s is a sha256 digest, "sha256:" and 64 lowercase hex
// digits: the only digests the registry stores blobs under.
func IsDigest(s string) bool { return digestPattern.MatchString(s) }

// APIPath is a parsed registry API path below /v2/.
type APIPath struct {
	Name string // repository name, may contain slashes
	Kind string // "manifests", "blobs", "uploads", "tags", "referrers"
	Ref  string // tag or digest (manifests, blobs, referrers), upload id (uploads)
}

// ParseAPIPath parses /v2/<name>/(manifests|blobs|tags|referrers)/... . The
// catalog and the base path are not repository paths and give ok false.
func ParseAPIPath(p string) (APIPath, bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return APIPath{}, false
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	var out APIPath
	var nameSegs []string
	switch {
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		out.Kind, out.Ref, nameSegs = "uploads", segs[n-1], segs[:n-3]
	case n >= 3 && segs[n-2] == "blobs" && segs[n-1] == "uploads":
		out.Kind, nameSegs = "uploads", segs[:n-2]
	case n >= 3 && segs[n-2] == "blobs":
		out.Kind, out.Ref, nameSegs = "blobs", segs[n-1], segs[:n-2]
	case n >= 3 && segs[n-2] == "manifests":
		out.Kind, out.Ref, nameSegs = "manifests", segs[n-1], segs[:n-2]
	case n >= 3 && segs[n-2] == "tags" && segs[n-1] == "list":
		out.Kind, nameSegs = "tags", segs[:n-2]
	case n >= 3 && segs[n-2] == "referrers":
		out.Kind, out.Ref, nameSegs = "referrers", segs[n-1], segs[:n-2]
	default:
		return APIPath{}, false
	}
	out.Name = strings.Join(nameSegs, "/")
	if out.Name == "" {
		return APIPath{}, false
	}
	return out, true
}

// WriteError writes a distribution-spec error body and returns status.
func WriteError(w http.ResponseWriter, status int, code, message, detail string) int {
	body, _ := json.Marshal(map[string][]map[string]any{"errors": {{"code": code, "message": message, "detail": detail}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
}
