package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/docker/go-units"

	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/registry"
	"github.com/org/ms-build-action/internal/retry"
)

// MergeInput is what a merge joins and where it is published: the images
// that runs on native runners pushed, one a platform, published as one
// index under Tags.
type MergeInput struct {
	Repository string
	// Images are the images to join, each a digest ("sha256:...") of an
	// image in Repository, or its URI (<registry>/<repository>@sha256:...,
	// as the image-uri output gives it).
	Images []string
	// Platforms, when set, are the platforms the index must hold, exactly
	// (os/arch[/variant]).
	Platforms    []string
	Tags         []string
	Release      string // as Input.Release
	MaxImageSize int64  // bytes, each platform's; 0 is no limit
	Notices      []string
}

// PlatformImage is one platform's image of an index.
type PlatformImage struct {
	Platform string // os/arch[/variant]
	Digest   string
	// Size is the image's compressed size as the registry counts it (ECR:
	// its layers), which is the image-size-bytes its own run reported.
	Size int64
}

// The media types of the indexes a merge makes.
const (
	mediaTypeOCIIndex  = "application/vnd.oci.image.index.v1+json"
	mediaTypeDockerIdx = "application/vnd.docker.distribution.manifest.list.v2+json"
)

var (
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// platformRE is an os, architecture or variant as an index may name it.
	platformRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)
)

// Merge publishes the images of several platforms, pushed by separate runs,
// as one index under the requested tags. No blob moves: each image is read
// by its digest (its manifest and config), the index that lists them is put
// under a staging tag and checked, and only then are the tags attached.
// Nothing is attached when a check fails.
func (p *Pipeline) Merge(ctx context.Context, in MergeInput) (Result, error) {
	r := &run{Pipeline: p, in: Input{Repository: in.Repository, Tags: in.Tags, Release: in.Release, Push: true, MaxImageSize: in.MaxImageSize},
		start: p.Now(), budget: retry.NewBudget(p.Faults, p.Now), cacheBudget: retry.NewBudget(p.Faults, p.Now)}
	for _, n := range in.Notices {
		p.Log.Note(Note{Level: Notice, Message: n})
	}
	err := r.merge(ctx, in)
	return r.result(), err
}

func (r *run) merge(ctx context.Context, in MergeInput) error {
	if len(in.Images) < 2 {
		return &InputError{Input: "images", Msg: fmt.Sprintf("only %d given: give the images of at least two platforms, one a line, each the digest or image-uri output of the run that pushed it", len(in.Images))}
	}
	err := r.timed("login", func() error { return r.login(ctx) })
	if err != nil {
		return err
	}
	digests, err := r.mergeDigests(in.Images)
	if err != nil {
		return err
	}
	rp, err := r.Publisher.Repository(ctx, false)
	if errors.Is(err, registry.ErrRepositoryMissing) {
		return &InputError{Input: "repository", Msg: fmt.Sprintf("%s does not exist: the runs that build each platform push their images there first; merge them into the repository they pushed to", r.in.Repository)}
	}
	if err != nil {
		return err
	}
	r.repo.info = rp
	var index registry.Manifest
	err = r.timed("reading the platforms' images", func() (err error) {
		if r.platforms, index, err = r.platformImages(ctx, digests, in.Platforms); err != nil {
			return err
		}
		return r.checkSize()
	})
	if err != nil {
		return err
	}
	return r.timed("index and tags", func() error { return r.publishIndex(ctx, index) })
}

// mergeDigests reads the images input: each a digest, or the URI of an
// image in the run's own repository.
func (r *run) mergeDigests(images []string) ([]string, error) {
	var out []string
	for _, img := range images {
		d := img
		if where, dg, ok := strings.Cut(img, "@"); ok {
			if where != r.repo.ref {
				return nil, &InputError{Input: "images", Msg: fmt.Sprintf("%s is not in %s: merge images of the repository the run publishes to (an index cannot name another repository's images); push each platform's image there", quoted(where), r.repo.ref)}
			}
			d = dg
		}
		if !digestRE.MatchString(d) {
			return nil, &InputError{Input: "images", Msg: fmt.Sprintf("%s is not a digest: give each image as sha256:<64 hex digits> or as <registry>/<repository>@sha256:..., the digest or image-uri output of the run that pushed it", quoted(img))}
		}
		for _, o := range out {
			if o == d {
				return nil, &InputError{Input: "images", Msg: fmt.Sprintf("%s is given twice: give each platform's image once", d)}
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// quoted is a value from the user in a message: quoted, and cut when long.
func quoted(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// imageConfig is what a merge reads of an image's config.
type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
}

func (c imageConfig) platform() string {
	p := c.OS + "/" + c.Architecture
	if c.Variant != "" {
		p += "/" + c.Variant
	}
	return p
}

// indexEntry is one image of an index, with its platform.
type indexEntry struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	Platform  struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Variant      string `json:"variant,omitempty"`
	} `json:"platform"`
}

// platformImages reads each image (its manifest, size and config), checks
// that each is one platform's image, the platforms distinct and, when
// want is given, exactly those; and makes the index that lists them.
func (r *run) platformImages(ctx context.Context, digests, want []string) ([]PlatformImage, registry.Manifest, error) {
	var (
		out     []PlatformImage
		entries []indexEntry
		docker  = true // every image a Docker manifest: the index a Docker manifest list
	)
	for _, d := range digests {
		img, cfg, err := r.platformImage(ctx, d)
		if err != nil {
			return nil, registry.Manifest{}, err
		}
		pl := cfg.platform()
		for _, o := range out {
			if o.Platform == pl {
				return nil, registry.Manifest{}, &InputError{Input: "images", Msg: fmt.Sprintf("%s and %s are both %s images: an index holds one image a platform; give each platform's image once (check which run pushed which)", o.Digest, d, pl)}
			}
		}
		if len(want) > 0 && !platformIn(pl, want) {
			return nil, registry.Manifest{}, &InputError{Input: "images", Msg: fmt.Sprintf("%s is a %s image, not one of platforms %s: give the images of exactly those platforms", d, pl, strings.Join(want, ","))}
		}
		out = append(out, PlatformImage{Platform: pl, Digest: d, Size: img.size})
		docker = docker && img.manifest.MediaType == cache.MediaTypeDockerManifest
		e := indexEntry{MediaType: img.manifest.MediaType, Digest: d, Size: int64(len(img.manifest.Body))}
		e.Platform.OS, e.Platform.Architecture, e.Platform.Variant = cfg.OS, cfg.Architecture, cfg.Variant
		entries = append(entries, e)
	}
	for _, w := range want {
		if !platformHeld(w, out) {
			return nil, registry.Manifest{}, &InputError{Input: "images", Msg: fmt.Sprintf("no image given is a %s image, which platforms asks for: add the digest its run pushed, or drop it from platforms", w)}
		}
	}
	mt := mediaTypeOCIIndex
	if docker {
		mt = mediaTypeDockerIdx
	}
	body, err := json.Marshal(struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []indexEntry `json:"manifests"`
	}{2, mt, entries})
	if err != nil {
		return nil, registry.Manifest{}, err
	}
	return out, registry.Manifest{Body: body, MediaType: mt}, nil
}

// platformImage reads one image the merge joins: its manifest and size,
// then its config for the platform.
func (r *run) platformImage(ctx context.Context, d string) (pushedImage, imageConfig, error) {
	img, err := r.lookup(ctx, d)
	if errors.Is(err, registry.ErrNotFound) {
		return img, imageConfig{}, &InputError{Input: "images", Msg: fmt.Sprintf("%s is not in %s: the run that built that platform should have pushed it there (give its digest or image-uri output); check that it finished, and pushed to this repository", d, r.repo.ref)}
	}
	if err != nil {
		return img, imageConfig{}, fmt.Errorf("reading image %s: %w", d, err)
	}
	if got := img.manifest.Digest(); got != d {
		return img, imageConfig{}, fmt.Errorf("reading image %s: the registry answered a manifest whose digest is %s", d, got)
	}
	mt := img.manifest.MediaType
	if mt != cache.MediaTypeDockerManifest && mt != cache.MediaTypeOCIManifest {
		return img, imageConfig{}, &InputError{Input: "images", Msg: fmt.Sprintf("%s is not one platform's image but a %s: give the image of each platform (the digest output of a single-platform run), not an index", d, mt)}
	}
	config, _, err := cache.ImageLayers(img.manifest.Body)
	if err != nil {
		return img, imageConfig{}, fmt.Errorf("reading image %s: %w", d, err)
	}
	b, err := r.Publisher.Blob(ctx, config)
	if err != nil {
		return img, imageConfig{}, fmt.Errorf("reading the config of image %s: %w", d, err)
	}
	var cfg imageConfig
	if err := json.Unmarshal(b, &cfg); err != nil || !platformRE.MatchString(cfg.OS) || !platformRE.MatchString(cfg.Architecture) || (cfg.Variant != "" && !platformRE.MatchString(cfg.Variant)) {
		return img, imageConfig{}, &InputError{Input: "images", Msg: fmt.Sprintf("the config of %s names no platform (an os and an architecture): give images that a build made", d)}
	}
	return img, cfg, nil
}

// platformIn tells whether platform pl is one of want: an entry without a
// variant stands for any variant of its os/arch, and arm64's v8 is its
// default.
func platformIn(pl string, want []string) bool {
	for _, w := range want {
		if samePlatform(pl, w) {
			return true
		}
	}
	return false
}

func platformHeld(w string, imgs []PlatformImage) bool {
	for _, i := range imgs {
		if samePlatform(i.Platform, w) {
			return true
		}
	}
	return false
}

func samePlatform(pl, w string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		if strings.HasSuffix(s, "/arm64/v8") {
			s = strings.TrimSuffix(s, "/v8")
		}
		return s
	}
	pl, w = norm(pl), norm(w)
	if strings.Count(w, "/") == 1 {
		return pl == w || strings.HasPrefix(pl, w+"/")
	}
	return pl == w
}

// checkPlatformSizes fails the merge when a platform's image is over
// max-image-size, before anything is put.
func (r *run) checkPlatformSizes() error {
	max := r.in.MaxImageSize
	for _, pi := range r.platforms {
		if max > 0 && pi.Size > max {
			return &InputError{Input: "max-image-size", Msg: fmt.Sprintf("the %s image is %s compressed (%d bytes), over the limit of %s: no tag was attached; make the image smaller or raise max-image-size", pi.Platform, units.HumanSize(float64(pi.Size)), pi.Size, units.HumanSize(float64(max)))}
		}
	}
	return nil
}

// publishIndex puts the index under a staging tag, checks that the
// registry holds it there, then attaches the requested tags, as a build's
// publish does; the staging tag goes at the end.
func (r *run) publishIndex(ctx context.Context, index registry.Manifest) error {
	digest := index.Digest()
	found, err := r.Publisher.Lookup(ctx, r.in.Tags)
	if err != nil {
		return fmt.Errorf("looking up the requested tags: %w", err)
	}
	r.pushed = pushedImage{digest: digest, manifest: index}
	// A tag the repository will not move fails the merge before anything
	// is put.
	if _, err := r.attachOrder(r.in.Tags, found); err != nil {
		return err
	}
	staging := stagingTag(digest, r.Now())
	r.Log.Infof("Putting the index %s of %d platforms under %s:%s", digest, len(r.platforms), r.repo.ref, staging)
	if err := r.Publisher.Put(ctx, staging, index); err != nil {
		return fmt.Errorf("putting the index: %w (no tag was attached)", err)
	}
	defer func() {
		cctx, cancel := cleanup(ctx)
		defer cancel()
		if err := r.Publisher.Untag(cctx, staging); err != nil {
			r.warn("%v", err)
		}
	}()
	img, err := r.lookup(ctx, staging)
	if err != nil {
		return fmt.Errorf("checking the index: %w (no tag was attached)", err)
	}
	if img.digest != digest || img.manifest.Digest() != digest {
		return fmt.Errorf("checking the index: the registry holds %s under %s, not the index %s put there (no tag was attached)", img.digest, staging, digest)
	}
	r.pushed = pushedImage{digest: digest, size: img.size, manifest: index}
	return r.attach(ctx, found)
}
