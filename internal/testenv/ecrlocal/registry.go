package ecrlocal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/org/ms-build-action/internal/ociregistry"
)

// maxManifestBytes bounds a manifest read from the registry.
const maxManifestBytes = 8 << 20

// manifestAccept lists the manifest media types the endpoint understands.
var manifestAccept = strings.Join([]string{
	mediaTypeOCIManifest, mediaTypeOCIIndex, mediaTypeDockerManifest, mediaTypeDockerList,
}, ", ")

// registryClient is the endpoint's client of the registry, over the OCI distribution API. It
// authenticates as user AWS with a password the endpoint issued to itself, so it passes the gate and
// any registry that checks those passwords.
type registryClient struct {
	base     *url.URL
	client   *http.Client
	password func() (string, error)
}

// registryError is a registry's non-2xx answer.
type registryError struct {
	status  int
	code    string
	message string
}

func (e *registryError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("registry answered %d", e.status)
	}
	return fmt.Sprintf("registry answered %d %s: %s", e.status, e.code, e.message)
}

// isNotFound tells whether err carries a registry's 404.
func isNotFound(err error) bool {
	var re *registryError
	return errors.As(err, &re) && re.status == http.StatusNotFound
}

func (c *registryClient) do(ctx context.Context, method, path string, query url.Values, header http.Header, body []byte) (*http.Response, error) {
	u := *c.base
	u.Path = path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("building request %s %s: %w", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	password, err := c.password()
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("AWS", password)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("requesting %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	rerr := &registryError{status: resp.StatusCode}
	var payload struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10)); err == nil && json.Unmarshal(b, &payload) == nil && len(payload.Errors) > 0 {
		rerr.code, rerr.message = payload.Errors[0].Code, payload.Errors[0].Message
	}
	return nil, fmt.Errorf("requesting %s %s: %w", method, path, rerr)
}

func manifestPath(repo, ref string) string { return "/v2/" + repo + "/manifests/" + ref }

// headManifest resolves ref (tag or digest) to a digest; found is false when the registry has none.
func (c *registryClient) headManifest(ctx context.Context, repo, ref string) (digest string, found bool, err error) {
	resp, err := c.do(ctx, http.MethodHead, manifestPath(repo, ref), nil, http.Header{"Accept": {manifestAccept}}, nil)
	if err != nil {
		if isNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("resolving %s:%s: %w", repo, ref, err)
	}
	resp.Body.Close()
	if d := resp.Header.Get("Docker-Content-Digest"); ociregistry.IsDigest(d) {
		return d, true, nil
	}
	// The registry did not say: read the manifest and hash it.
	m, found, err := c.getManifest(ctx, repo, ref)
	if err != nil || !found {
		return "", found, err
	}
	return m.digest, true, nil
}

// fetchedManifest is a manifest as the registry holds it.
type fetchedManifest struct {
	body      []byte
	mediaType string // Content-Type of the registry's answer
	digest    string // sha256 of body
}

func (c *registryClient) getManifest(ctx context.Context, repo, ref string) (fetchedManifest, bool, error) {
	resp, err := c.do(ctx, http.MethodGet, manifestPath(repo, ref), nil, http.Header{"Accept": {manifestAccept}}, nil)
	if err != nil {
		if isNotFound(err) {
			return fetchedManifest{}, false, nil
		}
		return fetchedManifest{}, false, fmt.Errorf("getting manifest %s:%s: %w", repo, ref, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestBytes))
	if err != nil {
		return fetchedManifest{}, false, fmt.Errorf("reading manifest %s:%s: %w", repo, ref, err)
	}
	sum := sha256.Sum256(body)
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return fetchedManifest{body: body, mediaType: strings.TrimSpace(mt), digest: "sha256:" + hex.EncodeToString(sum[:])}, true, nil
}

func (c *registryClient) putManifest(ctx context.Context, repo, ref, mediaType string, body []byte) error {
	resp, err := c.do(ctx, http.MethodPut, manifestPath(repo, ref), nil, http.Header{"Content-Type": {mediaType}}, body)
	if err != nil {
		return fmt.Errorf("putting manifest %s:%s: %w", repo, ref, err)
	}
	resp.Body.Close()
	return nil
}

// deleteManifest deletes a tag or a digest; found is false when there was nothing to delete.
func (c *registryClient) deleteManifest(ctx context.Context, repo, ref string) (found bool, err error) {
	resp, err := c.do(ctx, http.MethodDelete, manifestPath(repo, ref), nil, nil, nil)
	if err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("deleting manifest %s:%s: %w", repo, ref, err)
	}
	resp.Body.Close()
	return true, nil
}

func (c *registryClient) blobExists(ctx context.Context, repo, digest string) (bool, error) {
	resp, err := c.do(ctx, http.MethodHead, "/v2/"+repo+"/blobs/"+digest, nil, nil, nil)
	if err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("checking blob %s in %s: %w", digest, repo, err)
	}
	resp.Body.Close()
	return true, nil
}

// listTags returns every tag of repo, following the registry's pages. A repository the registry does
// not know yet (nothing pushed) has no tags.
func (c *registryClient) listTags(ctx context.Context, repo string) ([]string, error) {
	var tags []string
	path, query := "/v2/"+repo+"/tags/list", url.Values{"n": {"1000"}}
	for range 10000 {
		resp, err := c.do(ctx, http.MethodGet, path, query, nil, nil)
		if err != nil {
			if isNotFound(err) {
				return tags, nil
			}
			return nil, fmt.Errorf("listing tags of %s: %w", repo, err)
		}
		var page struct {
			Tags []string `json:"tags"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("decoding tags of %s: %w", repo, err)
		}
		tags = append(tags, page.Tags...)
		next, ok := nextLink(resp.Header.Get("Link"))
		if !ok || len(page.Tags) == 0 {
			return tags, nil
		}
		path, query = next.Path, next.Query()
	}
	return nil, fmt.Errorf("listing tags of %s: too many pages", repo)
}

// nextLink parses an RFC 5988 Link header's rel="next" target.
func nextLink(h string) (*url.URL, bool) {
	for part := range strings.SplitSeq(h, ",") {
		target, params, _ := strings.Cut(part, ";")
		if !strings.Contains(params, `rel="next"`) {
			continue
		}
		u, err := url.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
		if err != nil {
			return nil, false
		}
		return u, true
	}
	return nil, false
}
