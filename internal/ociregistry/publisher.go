package ociregistry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/registry"
)

// Publisher publishes to one repository of a plain OCI registry: no
// credentials, no repository to create, no lifecycle. The dry run publishes
// to a Local one.
type Publisher struct {
	host, repository string
	opts             []remote.Option
}

// New returns a Publisher to host/repository. host is host:port; a loopback
// or private host is spoken to over plain HTTP, any other over HTTPS. opts
// are go-containerregistry's (a transport, retries, credentials).
func New(host, repository string, opts ...remote.Option) *Publisher {
	return &Publisher{host: host, repository: repository, opts: slices.Clip(opts)}
}

// Login returns the registry's host and no credentials: none are needed.
func (p *Publisher) Login(context.Context) (registry.Login, error) {
	return registry.Login{Auth: build.Auth{Host: p.host}}, nil
}

// Repository returns the repository. A plain registry creates repositories
// as images are pushed, so create is not needed and none is created here.
func (p *Publisher) Repository(context.Context, bool) (registry.Repository, error) {
	return registry.Repository{}, nil
}

// Expire does nothing: a plain registry expires nothing.
func (p *Publisher) Expire(context.Context, registry.Expiry) error { return nil }

// Describe returns the digest of the manifest ref names and the image's
// size as ECR counts it (see size).
func (p *Publisher) Describe(ctx context.Context, ref string) (registry.Image, error) {
	doing := "describing " + p.display(ref)
	r, err := p.reference(ref)
	if err != nil {
		return registry.Image{}, fmt.Errorf("%s: %w", doing, err)
	}
	d, err := remote.Get(r, p.options(ctx)...)
	if err != nil {
		return registry.Image{}, classify(doing, err)
	}
	size, err := p.size(ctx, r.Context(), d.Manifest, mediaType(d), 0)
	if err != nil {
		return registry.Image{}, fmt.Errorf("%s: %w", doing, err)
	}
	return registry.Image{Digest: d.Digest.String(), SizeBytes: size}, nil
}

// Manifest returns the exact bytes and media type of the manifest ref
// names: a Docker schema 2 or OCI image manifest, or an index of either.
func (p *Publisher) Manifest(ctx context.Context, ref string) (registry.Manifest, error) {
	doing := "getting the manifest of " + p.display(ref)
	r, err := p.reference(ref)
	if err != nil {
		return registry.Manifest{}, fmt.Errorf("%s: %w", doing, err)
	}
	d, err := remote.Get(r, p.options(ctx)...)
	if err != nil {
		return registry.Manifest{}, classify(doing, err)
	}
	mt := mediaType(d)
	if !isImage(mt) && !isIndex(mt) {
		return registry.Manifest{}, fmt.Errorf("%s: media type %q is not supported", doing, mt)
	}
	return registry.Manifest{Body: d.Manifest, MediaType: string(mt)}, nil
}

// Lookup returns the manifests that tags point at; a tag that points at
// nothing is absent. A plain registry answers one tag a request.
func (p *Publisher) Lookup(ctx context.Context, tags []string) (map[string]registry.Manifest, error) {
	out := map[string]registry.Manifest{}
	for _, t := range tags {
		m, err := p.Manifest(ctx, t)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			continue
		case err != nil:
			return nil, err
		}
		out[t] = m
	}
	return out, nil
}

// Tagged lists nothing: a plain registry does not say when an image was
// pushed, and the dry run's registry lives only as long as the run.
func (p *Publisher) Tagged(context.Context) ([]registry.Tag, error) { return nil, nil }

// Put stores m under tag: only the manifest is sent, the blobs it names are
// in the repository already. Putting a tag again is harmless: a plain
// registry's tags are never immutable.
func (p *Publisher) Put(ctx context.Context, tag string, m registry.Manifest) error {
	doing := fmt.Sprintf("putting manifest %s as %s", m.Digest(), p.display(tag))
	t, err := name.NewTag(p.host+"/"+p.repository+":"+tag, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	err = remote.Put(t, taggable{m}, p.options(ctx)...)
	switch {
	case err == nil:
		return nil
	case isNotFound(err):
		// A manifest the index names is missing: not that no image has
		// the tag, which is what ErrNotFound would tell the run.
		return fmt.Errorf("%s: %w", doing, err)
	}
	return classify(doing, err)
}

// Untag removes tag; a tag that is not there is not an error. The image
// stays, reachable by its digest: a plain registry keeps untagged images,
// where ECR deletes them.
func (p *Publisher) Untag(ctx context.Context, tag string) error {
	doing := fmt.Sprintf("removing tag %s from %s/%s", tag, p.host, p.repository)
	t, err := name.NewTag(p.host+"/"+p.repository+":"+tag, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	if err := remote.Delete(t, p.options(ctx)...); err != nil && !isNotFound(err) {
		return classify(doing, err)
	}
	return nil
}

// size is an image's size as ECR counts imageSizeInBytes, and as
// internal/testenv/ecrlocal does: an image manifest's layers (compressed;
// its config and manifest not counted), and for an index, the largest of
// its images' sizes, those the repository does not hold counting as 0, as
// do indexes nested more than two deep.
func (p *Publisher) size(ctx context.Context, repo name.Repository, body []byte, mt types.MediaType, depth int) (int64, error) {
	switch {
	case isImage(mt):
		m, err := v1.ParseManifest(bytes.NewReader(body))
		if err != nil {
			return 0, fmt.Errorf("reading the manifest: %w", err)
		}
		var n int64
		for _, l := range m.Layers {
			n += l.Size
		}
		return n, nil
	case isIndex(mt):
		if depth > 2 {
			return 0, nil
		}
		im, err := v1.ParseIndexManifest(bytes.NewReader(body))
		if err != nil {
			return 0, fmt.Errorf("reading the index: %w", err)
		}
		var largest int64
		for _, c := range im.Manifests {
			d, err := remote.Get(repo.Digest(c.Digest.String()), p.options(ctx)...)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return 0, classify("getting the manifest of "+repo.Name()+"@"+c.Digest.String(), err)
			}
			n, err := p.size(ctx, repo, d.Manifest, mediaType(d), depth+1)
			if err != nil {
				return 0, err
			}
			largest = max(largest, n)
		}
		return largest, nil
	}
	return 0, fmt.Errorf("media type %q is not supported", mt)
}

// reference is ref (a tag, or a digest "sha256:...") in the repository.
func (p *Publisher) reference(ref string) (name.Reference, error) {
	if strings.HasPrefix(ref, "sha256:") {
		return name.NewDigest(p.host+"/"+p.repository+"@"+ref, name.StrictValidation)
	}
	return name.NewTag(p.host+"/"+p.repository+":"+ref, name.StrictValidation)
}

// display names ref in the repository, for errors.
func (p *Publisher) display(ref string) string {
	if strings.HasPrefix(ref, "sha256:") {
		return p.host + "/" + p.repository + "@" + ref
	}
	return p.host + "/" + p.repository + ":" + ref
}

// options are the caller's options for one call under ctx. opts has no
// spare capacity (New clips it), so concurrent calls never share an array.
func (p *Publisher) options(ctx context.Context) []remote.Option {
	return append(p.opts, remote.WithContext(ctx))
}

// taggable is a manifest as go-containerregistry puts one: its bytes as
// they are, under its own media type.
type taggable struct{ m registry.Manifest }

func (t taggable) RawManifest() ([]byte, error) { return t.m.Body, nil }

func (t taggable) MediaType() (types.MediaType, error) {
	if t.m.MediaType != "" {
		return types.MediaType(t.m.MediaType), nil
	}
	return bodyMediaType(t.m.Body), nil
}

// mediaType is the manifest's media type: as the registry answered it, or,
// when it gave none, as the manifest says.
func mediaType(d *remote.Descriptor) types.MediaType {
	if d.MediaType != "" {
		return d.MediaType
	}
	return bodyMediaType(d.Manifest)
}

func bodyMediaType(body []byte) types.MediaType {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	_ = json.Unmarshal(body, &m) // not JSON: no media type, which callers refuse
	return m.MediaType
}

func isImage(mt types.MediaType) bool {
	return mt == types.DockerManifestSchema2 || mt == types.OCIManifestSchema1
}

func isIndex(mt types.MediaType) bool {
	return mt == types.DockerManifestList || mt == types.OCIImageIndex
}

// classify wraps err, the registry's answer to doing, with the kind of
// failure the run branches on.
func classify(doing string, err error) error {
	switch {
	case isNotFound(err):
		return fmt.Errorf("%s: %w", doing, registry.ErrNotFound)
	case isUnavailable(err):
		return fmt.Errorf("%s: %w: %w", doing, registry.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// isNotFound says whether the registry answered that the manifest or the
// repository is unknown.
func isNotFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}

// isUnavailable says whether err is a fault that may pass: a 5xx, a rate
// limit, a refused or broken connection. A cancelled call is not one.
func isUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode >= 500 || te.StatusCode == http.StatusTooManyRequests || te.StatusCode == http.StatusRequestTimeout
	}
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// maxBlob bounds a blob Blob reads: an image config is a few kilobytes.
const maxBlob = 4 << 20

// Blob reads a small blob (an image's config), checked against its digest.
func (p *Publisher) Blob(ctx context.Context, dgst string) ([]byte, error) {
	doing := "reading blob " + p.display(dgst)
	r, err := name.NewDigest(p.host+"/"+p.repository+"@"+dgst, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	l, err := remote.Layer(r, p.options(ctx)...)
	if err != nil {
		return nil, classify(doing, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, classify(doing, err)
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, maxBlob+1))
	switch {
	case err != nil:
		return nil, classify(doing, err)
	case len(body) > maxBlob:
		return nil, fmt.Errorf("%s: larger than %d bytes", doing, maxBlob)
	}
	return body, nil
}
