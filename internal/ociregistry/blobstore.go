package ociregistry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BlobStore keeps blobs as files, for go-containerregistry's registry (its BlobHandler) and for blob
// uploads, which it takes over from that registry because the registry buffers uploads in memory. A
// blob is streamed to disk as it arrives and hashed on the way; nothing is held in memory. Use it as
// both:
//
//	store.Uploads(ggcrregistry.New(ggcrregistry.WithBlobHandler(store)))
type BlobStore struct {
	dir string // blobs in dir/blobs/sha256/<hex>, uploads in progress in dir/uploads

	mu       sync.Mutex
	sessions map[string]*uploadSession
}

var (
	_ ggcrregistry.BlobHandler       = (*BlobStore)(nil)
	_ ggcrregistry.BlobStatHandler   = (*BlobStore)(nil)
	_ ggcrregistry.BlobPutHandler    = (*BlobStore)(nil)
	_ ggcrregistry.BlobDeleteHandler = (*BlobStore)(nil)
)

// NewBlobStore returns a store keeping blobs in dir, creating what it needs there.
func NewBlobStore(dir string) (*BlobStore, error) {
	for _, sub := range []string{"blobs/sha256", "uploads"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("creating blob store: %w", err)
		}
	}
	return &BlobStore{dir: dir, sessions: map[string]*uploadSession{}}, nil
}

func (d *BlobStore) blobPath(h v1.Hash) (string, error) {
	if h.Algorithm != "sha256" || !IsDigest(h.String()) {
		return "", fmt.Errorf("blob digest %q: only sha256 is supported", h.String())
	}
	return filepath.Join(d.dir, "blobs", "sha256", h.Hex), nil
}

// Stat returns the size of a blob; its digest was verified when it was stored.
func (d *BlobStore) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	p, err := d.blobPath(h)
	if err != nil {
		return 0, ggcrregistry.ErrNotFound
	}
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0, ggcrregistry.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("reading blob %s: %w", h, err)
	}
	return fi.Size(), nil
}

// Get opens a blob.
func (d *BlobStore) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	p, err := d.blobPath(h)
	if err != nil {
		return nil, ggcrregistry.ErrNotFound
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ggcrregistry.ErrNotFound
	}
	return f, err
}

// Put stores a blob; the registry hands over a reader that fails when the content does not match h.
func (d *BlobStore) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	p, err := d.blobPath(h)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(d.dir, "uploads"), "put-*")
	if err != nil {
		return fmt.Errorf("storing blob %s: %w", h, err)
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("storing blob %s: %w", h, err)
	}
	return nil
}

// Delete removes a blob.
func (d *BlobStore) Delete(_ context.Context, _ string, h v1.Hash) error {
	p, err := d.blobPath(h)
	if err != nil {
		return ggcrregistry.ErrNotFound
	}
	if err := os.Remove(p); errors.Is(err, os.ErrNotExist) {
		return ggcrregistry.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("deleting blob %s: %w", h, err)
	}
	return nil
}

// uploadSession is a blob upload in progress.
type uploadSession struct {
	mu   sync.Mutex
	repo string
	f    *os.File
	h    hash.Hash
	size int64
}

// Uploads serves the blob upload API (POST, PATCH, PUT, GET, DELETE on /v2/<name>/blobs/uploads/)
// and passes every other request to next.
func (d *BlobStore) Uploads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := ParseAPIPath(r.URL.Path)
		if !ok || p.Kind != "uploads" {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodPost && p.Ref == "" {
			d.start(w, r, p.Name)
			return
		}
		d.mu.Lock()
		u, ok := d.sessions[p.Ref]
		d.mu.Unlock()
		if !ok || u.repo != p.Name {
			WriteError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", "")
			return
		}
		u.mu.Lock()
		defer u.mu.Unlock()
		switch r.Method {
		case http.MethodPatch:
			d.patch(w, r, p, u)
		case http.MethodPut:
			d.finish(w, r, p.Ref, u)
		case http.MethodGet:
			d.progress(w, p, u, http.StatusNoContent)
		case http.MethodDelete:
			d.drop(p.Ref, u)
			w.WriteHeader(http.StatusNoContent)
		default:
			WriteError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.", "")
		}
	})
}

func (d *BlobStore) start(w http.ResponseWriter, r *http.Request, repo string) {
	q := r.URL.Query()
	if mount := q.Get("mount"); IsDigest(mount) {
		h, _ := v1.NewHash(mount)
		if _, err := d.Stat(r.Context(), repo, h); err == nil {
			w.Header().Set("Location", "/v2/"+repo+"/blobs/"+mount)
			w.Header().Set("Docker-Content-Digest", mount)
			w.WriteHeader(http.StatusCreated)
			return
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	f, err := os.CreateTemp(filepath.Join(d.dir, "uploads"), "upload-*")
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "UNKNOWN", "creating the upload failed", "")
		return
	}
	u := &uploadSession{repo: repo, f: f, h: sha256.New()}
	d.mu.Lock()
	d.sessions[id] = u
	d.mu.Unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	if q.Get("digest") != "" { // monolithic upload: POST with the whole blob
		d.finish(w, r, id, u)
		return
	}
	d.progress(w, APIPath{Name: repo, Kind: "uploads", Ref: id}, u, http.StatusAccepted)
}

// patch appends a chunk; a Content-Range must start where the upload stands.
func (d *BlobStore) patch(w http.ResponseWriter, r *http.Request, p APIPath, u *uploadSession) {
	if cr := r.Header.Get("Content-Range"); cr != "" {
		var start, end int64
		if _, err := fmt.Sscanf(cr, "%d-%d", &start, &end); err != nil || start != u.size {
			w.Header().Set("Range", rangeOf(u.size))
			WriteError(w, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", "the chunk's Content-Range does not continue the upload", "")
			return
		}
	}
	if err := u.write(r.Body); err != nil {
		d.drop(p.Ref, u)
		WriteError(w, http.StatusInternalServerError, "BLOB_UPLOAD_INVALID", "writing the chunk failed", "")
		return
	}
	d.progress(w, p, u, http.StatusAccepted)
}

// finish appends the request's body, checks the digest and moves the blob into place.
func (d *BlobStore) finish(w http.ResponseWriter, r *http.Request, id string, u *uploadSession) {
	digest := r.URL.Query().Get("digest")
	if !IsDigest(digest) {
		WriteError(w, http.StatusBadRequest, "DIGEST_INVALID", "a sha256 digest parameter is required", "")
		return
	}
	err := u.write(r.Body)
	if err == nil && "sha256:"+hex.EncodeToString(u.h.Sum(nil)) != digest {
		d.drop(id, u)
		WriteError(w, http.StatusBadRequest, "DIGEST_INVALID", "provided digest did not match uploaded content", "")
		return
	}
	if err == nil {
		err = u.f.Close()
	}
	if err == nil {
		h, _ := v1.NewHash(digest)
		var p string
		if p, err = d.blobPath(h); err == nil {
			err = os.Rename(u.f.Name(), p)
		}
	}
	d.drop(id, u)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "BLOB_UPLOAD_INVALID", "storing the blob failed", "")
		return
	}
	w.Header().Set("Location", "/v2/"+u.repo+"/blobs/"+digest)
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

func (d *BlobStore) progress(w http.ResponseWriter, p APIPath, u *uploadSession, status int) {
	w.Header().Set("Location", "/v2/"+p.Name+"/blobs/uploads/"+p.Ref)
	w.Header().Set("Range", rangeOf(u.size))
	w.Header().Set("Docker-Upload-UUID", p.Ref)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// drop forgets an upload and removes its file (a committed blob was renamed away already).
func (d *BlobStore) drop(id string, u *uploadSession) {
	d.mu.Lock()
	delete(d.sessions, id)
	d.mu.Unlock()
	_ = u.f.Close()
	_ = os.Remove(u.f.Name())
}

func (u *uploadSession) write(body io.Reader) error {
	n, err := io.Copy(io.MultiWriter(u.f, u.h), body)
	u.size += n
	return err
}

func rangeOf(size int64) string {
	if size == 0 {
		return "0-0"
	}
	return fmt.Sprintf("0-%d", size-1)
}
