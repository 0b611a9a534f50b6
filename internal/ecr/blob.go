package ecr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/org/ms-build-action/internal/registry"
)

// maxBlob bounds a blob Blob reads: an image config is a few kilobytes.
const maxBlob = 4 << 20

// Blob reads a small blob (an image's config) through the registry's API,
// with the credentials of the last Login: one GET, which ECR answers with a
// redirect to its storage (followed without the credentials). The bytes are
// checked against the digest.
func (r *Registry) Blob(ctx context.Context, dgst string) ([]byte, error) {
	r.mu.Lock()
	l := r.last
	r.mu.Unlock()
	doing := fmt.Sprintf("reading blob %s of %s", dgst, r.repo)
	want, err := digest.Parse(dgst)
	if err != nil {
		return nil, fmt.Errorf("%s: not a digest", doing)
	}
	if l.Host == "" {
		return nil, fmt.Errorf("%s: the registry was not logged in to", doing)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme(l.Host)+"://"+l.Host+"/v2/"+r.repo+"/blobs/"+dgst, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	req.SetBasicAuth(l.Username, l.Password)
	client := r.HTTP
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		// The request's URL holds no credential: the error may name it.
		return nil, fmt.Errorf("%s: %w: %w", doing, registry.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s: %w", doing, registry.ErrNotFound)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, fmt.Errorf("%s: the registry answered %s: %w", doing, resp.Status, registry.ErrUnavailable)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: the registry answered %s", doing, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBlob+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: %w: %w", doing, registry.ErrUnavailable, err)
	case len(body) > maxBlob:
		return nil, fmt.Errorf("%s: larger than %d bytes", doing, maxBlob)
	case want.Algorithm().FromBytes(body) != want:
		return nil, errors.New(doing + ": the bytes do not match the digest")
	}
	return body, nil
}

// scheme is how the registry at host is reached: plain HTTP on this
// machine's loopback only, as the Docker engine does by default.
func scheme(host string) string {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return "http"
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return "http"
	}
	return "https"
}
