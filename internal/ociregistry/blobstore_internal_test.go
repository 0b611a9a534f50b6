package ociregistry

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// blobServer is go-containerregistry's registry with the blob store taking blobs and uploads.
func blobServer(t *testing.T) (*httptest.Server, *BlobStore) {
	t.Helper()
	store, err := NewBlobStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)), ggcrregistry.WithBlobHandler(store))
	srv := httptest.NewServer(store.Uploads(reg))
	t.Cleanup(srv.Close)
	return srv, store
}

type step struct {
	method, path string // path may hold {upload}, the last upload Location
	header       map[string]string
	body         string
	wantStatus   int
	wantHeader   map[string]string
	wantBody     string // checked when set
}

func runSteps(t *testing.T, srv *httptest.Server, steps []step) {
	t.Helper()
	location := ""
	for i, s := range steps {
		path := strings.ReplaceAll(s.path, "{upload}", location)
		req, err := http.NewRequestWithContext(t.Context(), s.method, srv.URL+path, strings.NewReader(s.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range s.header {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("step %d %s %s: %v", i, s.method, path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.wantStatus {
			t.Fatalf("step %d %s %s = %d %s, want %d", i, s.method, path, resp.StatusCode, body, s.wantStatus)
		}
		for k, v := range s.wantHeader {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("step %d %s %s: header %s = %q, want %q", i, s.method, path, k, got, v)
			}
		}
		if s.wantBody != "" && string(body) != s.wantBody {
			t.Errorf("step %d %s %s: body = %q, want %q", i, s.method, path, body, s.wantBody)
		}
		if loc := resp.Header.Get("Location"); strings.Contains(loc, "/uploads/") {
			location = loc
		}
	}
}

func TestBlobStoreUploads(t *testing.T) {
	t.Parallel()
	content := "hello, blob store"
	digest := digestOf(content)
	for _, tc := range []struct {
		name         string
		steps        []step
		wantSessions int // uploads still open at the end
	}{
		{name: "chunked", steps: []step{
			{method: "POST", path: "/v2/team/app/blobs/uploads/", wantStatus: 202, wantHeader: map[string]string{"Range": "0-0"}},
			{method: "PATCH", path: "{upload}", header: map[string]string{"Content-Range": "0-4"}, body: content[:5], wantStatus: 202,
				wantHeader: map[string]string{"Range": "0-4"}},
			{method: "PATCH", path: "{upload}", header: map[string]string{"Content-Range": "9-12"}, body: "xxxx", wantStatus: 416},
			{method: "PATCH", path: "{upload}", header: map[string]string{"Content-Range": "5-9"}, body: content[5:10], wantStatus: 202},
			{method: "GET", path: "{upload}", wantStatus: 204, wantHeader: map[string]string{"Range": "0-9"}},
			{method: "PUT", path: "{upload}?digest=" + digest, body: content[10:], wantStatus: 201,
				wantHeader: map[string]string{"Docker-Content-Digest": digest, "Location": "/v2/team/app/blobs/" + digest}},
			{method: "HEAD", path: "/v2/team/app/blobs/" + digest, wantStatus: 200, wantHeader: map[string]string{"Content-Length": "17"}},
			{method: "GET", path: "/v2/team/app/blobs/" + digest, wantStatus: 200, wantBody: content},
			{method: "PATCH", path: "{upload}", body: "more", wantStatus: 404},
		}},
		{name: "monolithic patch then put", steps: []step{
			{method: "POST", path: "/v2/app/blobs/uploads/", wantStatus: 202},
			{method: "PATCH", path: "{upload}", body: content, wantStatus: 202, wantHeader: map[string]string{"Range": "0-16"}},
			{method: "PUT", path: "{upload}?digest=" + digest, wantStatus: 201},
		}},
		{name: "single post", steps: []step{
			{method: "POST", path: "/v2/app/blobs/uploads/?digest=" + digest, body: content, wantStatus: 201,
				wantHeader: map[string]string{"Docker-Content-Digest": digest}},
		}},
		{name: "digest mismatch", steps: []step{
			{method: "POST", path: "/v2/app/blobs/uploads/", wantStatus: 202},
			{method: "PUT", path: "{upload}?digest=" + digestOf("other"), body: content, wantStatus: 400},
			{method: "GET", path: "{upload}", wantStatus: 404},
			{method: "HEAD", path: "/v2/app/blobs/" + digestOf("other"), wantStatus: 404},
		}},
		{name: "no digest", steps: []step{
			{method: "POST", path: "/v2/app/blobs/uploads/", wantStatus: 202},
			{method: "PUT", path: "{upload}", body: content, wantStatus: 400},
		}, wantSessions: 1},
		{name: "cancel", steps: []step{
			{method: "POST", path: "/v2/app/blobs/uploads/", wantStatus: 202},
			{method: "DELETE", path: "{upload}", wantStatus: 204},
			{method: "PATCH", path: "{upload}", body: content, wantStatus: 404},
		}},
		{name: "unknown upload", steps: []step{
			{method: "PATCH", path: "/v2/app/blobs/uploads/nope", body: content, wantStatus: 404},
		}},
		{name: "mount", steps: []step{
			{method: "POST", path: "/v2/app/blobs/uploads/?digest=" + digest, body: content, wantStatus: 201},
			{method: "POST", path: "/v2/other/blobs/uploads/?mount=" + digest + "&from=app", wantStatus: 201,
				wantHeader: map[string]string{"Location": "/v2/other/blobs/" + digest}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, store := blobServer(t)
			runSteps(t, srv, tc.steps)
			store.mu.Lock()
			defer store.mu.Unlock()
			if got := len(store.sessions); got != tc.wantSessions {
				t.Errorf("%d upload sessions left, want %d", got, tc.wantSessions)
			}
		})
	}
}
