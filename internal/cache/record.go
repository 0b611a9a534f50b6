package cache

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// A record marks a pushed runtime image with its skip key, and is what the
// skip tag and the branch's runtime cache tag point at. It is never the image
// itself: ECR's lifecycle policy expires whole images, not tags, so a cache
// tag on a released image would one day expire its release tags with it.
//
// The record is an OCI image manifest with the image's config and layers (no
// blob is uploaded: they are in the repository already), the image as its
// subject, and the skip key as an annotation. Pulled, it is the runtime
// image, with the inline cache metadata in its config: what a later build of
// the branch uses as cache.

// Media types of the manifests records are made from and of records. Their
// home is go-containerregistry's types package, as for every media type
// here; these names stay for callers that pass them on as strings.
const (
	MediaTypeOCIManifest    = string(types.OCIManifestSchema1)
	MediaTypeDockerManifest = string(types.DockerManifestSchema2)

	// SkipKeyAnnotation holds the record's skip key.
	SkipKeyAnnotation = "dev.ms-build.skip-key"
	// ImageAnnotation holds the image's manifest, base64: a skip re-tags the
	// image from the record alone, with no second request.
	ImageAnnotation = "dev.ms-build.image-manifest"
	// RegistryAnnotation holds the registry's host as the run that wrote the
	// record logged in to it: a skip names the image without a login.
	RegistryAnnotation = "dev.ms-build.registry"
	// RevisionAnnotation holds the revision (commit) that built the image a
	// record marks: a later commit that skips attaches its tags to that
	// image, which keeps naming the commit that built it.
	RevisionAnnotation = "org.opencontainers.image.revision"
	// SizeAnnotation holds an index's size as ECR counts it (its largest
	// image's): its record's layers are all its images'.
	SizeAnnotation = "dev.ms-build.image-size"
)

// Docker's media types and their OCI equals (the bytes are the same).
var ociType = map[types.MediaType]types.MediaType{
	types.DockerConfigJSON:   types.OCIConfigJSON,
	types.DockerLayer:        types.OCILayer,
	types.DockerForeignLayer: types.OCIRestrictedLayer,
}

func oci(mediaType string) string {
	if t, ok := ociType[types.MediaType(mediaType)]; ok {
		return string(t)
	}
	return mediaType
}

// NewRecord makes the record of an image from its manifest (Docker schema 2
// or OCI, as pushed, or an index of them), its skip key, and where it is and
// which commit built it (info). The same image, key and info always make the
// same record. The record is an image manifest of the image's config and
// layers (for an index: its first image's config and every image's layers,
// from info.Platforms), so that it holds what the image holds.
func NewRecord(image []byte, mediaType, skipKey string, info RecordInfo) ([]byte, error) {
	config, layers, size, err := recordContent(image, mediaType, info.Platforms)
	if err != nil {
		return nil, fmt.Errorf("recording the skip key: %w", err)
	}
	rec := v1.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   MediaTypeOCIManifest,
		Config:      config,
		Layers:      make([]v1.Descriptor, len(layers)),
		Subject:     &v1.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(image), Size: int64(len(image))},
		Annotations: map[string]string{SkipKeyAnnotation: skipKey, ImageAnnotation: base64.StdEncoding.EncodeToString(image)},
	}
	if info.Registry != "" {
		rec.Annotations[RegistryAnnotation] = info.Registry
	}
	if info.Revision != "" {
		rec.Annotations[RevisionAnnotation] = info.Revision
	}
	if len(info.Platforms) > 0 {
		rec.Annotations[SizeAnnotation] = strconv.FormatInt(size, 10)
	}
	rec.Config.MediaType = oci(config.MediaType)
	for i, l := range layers {
		l.MediaType = oci(l.MediaType)
		rec.Layers[i] = l
	}
	return json.Marshal(rec)
}

// recordContent is what a record of image holds: its config and layers,
// and for an index its first image's config, every image's layers, and its
// size as ECR counts an index's (the largest image's).
func recordContent(image []byte, mediaType string, platforms [][]byte) (v1.Descriptor, []v1.Descriptor, int64, error) {
	if IsIndex(mediaType) {
		if len(platforms) == 0 {
			return v1.Descriptor{}, nil, 0, errors.New("an index's record needs its images' manifests")
		}
		var (
			config v1.Descriptor
			layers []v1.Descriptor
			size   int64
		)
		for i, p := range platforms {
			var m v1.Manifest
			if err := json.Unmarshal(p, &m); err != nil || m.Config.Digest == "" {
				return v1.Descriptor{}, nil, 0, fmt.Errorf("the index's image %d is not an image manifest", i+1)
			}
			if i == 0 {
				config = m.Config
			}
			var n int64
			for _, l := range m.Layers {
				n += l.Size
			}
			size = max(size, n)
			layers = append(layers, m.Layers...)
		}
		return config, layers, size, nil
	}
	if mediaType != MediaTypeDockerManifest && mediaType != MediaTypeOCIManifest {
		return v1.Descriptor{}, nil, 0, fmt.Errorf("images of media type %s are not supported", mediaType)
	}
	var m v1.Manifest
	if err := json.Unmarshal(image, &m); err != nil {
		return v1.Descriptor{}, nil, 0, fmt.Errorf("reading the image's manifest: %w", err)
	}
	return m.Config, m.Layers, 0, nil
}

// IndexImages returns the digests of an index's images, leaving out what
// is not one platform's image (BuildKit's attestation manifests, whose
// platform is unknown/unknown).
func IndexImages(index []byte) ([]string, error) {
	var ix v1.Index
	if err := json.Unmarshal(index, &ix); err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	var out []string
	for _, m := range ix.Manifests {
		if m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" || (m.Platform != nil && m.Platform.OS == "unknown") {
			continue
		}
		out = append(out, m.Digest.String())
	}
	if len(out) == 0 {
		return nil, errors.New("the index lists no image")
	}
	return out, nil
}

// IndexPlatforms returns an index's images by platform (os/arch, with
// /variant when the index names one but arm64's v8), attestations left out.
func IndexPlatforms(index []byte) (map[string]string, error) {
	var ix v1.Index
	if err := json.Unmarshal(index, &ix); err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	out := map[string]string{}
	for _, m := range ix.Manifests {
		p := m.Platform
		if p == nil || p.OS == "unknown" || m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		name := p.OS + "/" + p.Architecture
		if p.Variant != "" && !(p.Architecture == "arm64" && p.Variant == "v8") {
			name += "/" + p.Variant
		}
		out[name] = m.Digest.String()
	}
	return out, nil
}

// IsIndex reports whether mediaType is an OCI image index or a Docker
// manifest list.
func IsIndex(mediaType string) bool {
	return types.MediaType(mediaType).IsIndex()
}

// ErrNotRecord is returned by ReadRecord for a manifest that is no record.
var ErrNotRecord = errors.New("not an ms-build record")

// ReadRecord returns the digest of the image a record marks and its skip key.
func ReadRecord(record []byte) (imageDigest, skipKey string, err error) {
	var m v1.Manifest
	if err := json.Unmarshal(record, &m); err != nil {
		return "", "", fmt.Errorf("reading a record: %w", err)
	}
	if m.Subject == nil || m.Annotations[SkipKeyAnnotation] == "" {
		return "", "", ErrNotRecord
	}
	return m.Subject.Digest.String(), m.Annotations[SkipKeyAnnotation], nil
}

// RecordInfo is what a record says of its image beside the skip key.
type RecordInfo struct {
	Registry string // the registry's host, as the run that wrote it logged in to it
	Revision string // the commit that built the image
	// Platforms are the manifests of an index's images, in its order; none
	// for an image.
	Platforms [][]byte
}

// Recorded is the image a record marks, as the record carries it.
type Recorded struct {
	Digest    string
	SkipKey   string
	Manifest  []byte // "" when the record predates ImageAnnotation
	MediaType string
	Size      int64  // compressed: the sum of its layers, as ECR counts it
	Registry  string // the registry's host; "" when the record names none
	Revision  string // the commit that built the image; "" when the record names none
}

// ReadRecorded reads a record whole. Manifest is empty unless its bytes are
// the subject's.
func ReadRecorded(record []byte) (Recorded, error) {
	var m v1.Manifest
	if err := json.Unmarshal(record, &m); err != nil {
		return Recorded{}, fmt.Errorf("reading a record: %w", err)
	}
	if m.Subject == nil || m.Annotations[SkipKeyAnnotation] == "" {
		return Recorded{}, ErrNotRecord
	}
	r := Recorded{Digest: m.Subject.Digest.String(), SkipKey: m.Annotations[SkipKeyAnnotation], MediaType: m.Subject.MediaType,
		Registry: m.Annotations[RegistryAnnotation], Revision: m.Annotations[RevisionAnnotation]}
	for _, l := range m.Layers {
		r.Size += l.Size
	}
	if n, err := strconv.ParseInt(m.Annotations[SizeAnnotation], 10, 64); err == nil {
		r.Size = n
	}
	if b, err := base64.StdEncoding.DecodeString(m.Annotations[ImageAnnotation]); err == nil && len(b) > 0 && digest.FromBytes(b) == m.Subject.Digest {
		r.Manifest = b
	}
	return r, nil
}

// ConfigDigest returns the config digest of an image manifest: the image id
// the engine gives the image.
func ConfigDigest(image []byte) (string, error) {
	var m v1.Manifest
	if err := json.Unmarshal(image, &m); err != nil || m.Config.Digest == "" {
		return "", fmt.Errorf("reading the image's config digest: not an image manifest")
	}
	return m.Config.Digest.String(), nil
}

// Annotate returns image, a Docker schema 2 or OCI image manifest, as an
// OCI image manifest with annotations added (they override the manifest's
// own): the same config and layers, under their OCI media types, so that no
// blob moves. A Docker schema 2 manifest has no annotations. An index (OCI,
// or a Docker manifest list) becomes an OCI index of the same images with
// the annotations.
func Annotate(image []byte, mediaType string, annotations map[string]string) ([]byte, error) {
	if IsIndex(mediaType) {
		return annotateIndex(image, annotations)
	}
	if mediaType != MediaTypeDockerManifest && mediaType != MediaTypeOCIManifest {
		return nil, fmt.Errorf("annotating the image: the builder pushed a manifest of media type %s, which ms-build cannot annotate: use labels instead", mediaType)
	}
	var m v1.Manifest
	if err := json.Unmarshal(image, &m); err != nil {
		return nil, fmt.Errorf("annotating the image: reading its manifest: %w", err)
	}
	out := v1.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    MediaTypeOCIManifest,
		ArtifactType: m.ArtifactType,
		Config:       m.Config,
		Layers:       make([]v1.Descriptor, len(m.Layers)),
		Subject:      m.Subject,
		Annotations:  withAnnotations(m.Annotations, annotations),
	}
	out.Config.MediaType = oci(m.Config.MediaType)
	for i, l := range m.Layers {
		l.MediaType = oci(l.MediaType)
		out.Layers[i] = l
	}
	return json.Marshal(out)
}

func annotateIndex(image []byte, annotations map[string]string) ([]byte, error) {
	var ix v1.Index
	if err := json.Unmarshal(image, &ix); err != nil {
		return nil, fmt.Errorf("annotating the image: reading its index: %w", err)
	}
	out := v1.Index{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    string(types.OCIImageIndex),
		ArtifactType: ix.ArtifactType,
		Manifests:    ix.Manifests,
		Subject:      ix.Subject,
		Annotations:  withAnnotations(ix.Annotations, annotations),
	}
	return json.Marshal(out)
}

func withAnnotations(own, added map[string]string) map[string]string {
	out := maps.Clone(own)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, added)
	return out
}
