package cache

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

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
// or OCI, as pushed), its skip key, and where it is and which commit built
// it (info). The same image, key and info always make the same record.
func NewRecord(image []byte, mediaType, skipKey string, info RecordInfo) ([]byte, error) {
	if mediaType != MediaTypeDockerManifest && mediaType != MediaTypeOCIManifest {
		return nil, fmt.Errorf("recording the skip key: images of media type %s are not supported", mediaType)
	}
	var m v1.Manifest
	if err := json.Unmarshal(image, &m); err != nil {
		return nil, fmt.Errorf("recording the skip key: reading the image's manifest: %w", err)
	}
	rec := v1.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   MediaTypeOCIManifest,
		Config:      m.Config,
		Layers:      make([]v1.Descriptor, len(m.Layers)),
		Subject:     &v1.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(image), Size: int64(len(image))},
		Annotations: map[string]string{SkipKeyAnnotation: skipKey, ImageAnnotation: base64.StdEncoding.EncodeToString(image)},
	}
	if info.Registry != "" {
		rec.Annotations[RegistryAnnotation] = info.Registry
	}
	if info.Revision != "" {
		rec.Annotations[RevisionAnnotation] = info.Revision
	}
	rec.Config.MediaType = oci(m.Config.MediaType)
	for i, l := range m.Layers {
		l.MediaType = oci(l.MediaType)
		rec.Layers[i] = l
	}
	return json.Marshal(rec)
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
// blob moves. A Docker schema 2 manifest has no annotations; an index is not
// supported.
func Annotate(image []byte, mediaType string, annotations map[string]string) ([]byte, error) {
	if mediaType != MediaTypeDockerManifest && mediaType != MediaTypeOCIManifest {
		return nil, fmt.Errorf("annotating the image: the builder pushed a manifest of media type %s, which ms-build cannot annotate (an image index, as the containerd image store may push): use labels instead, or the classic image store", mediaType)
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
		Annotations:  maps.Clone(m.Annotations),
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	maps.Copy(out.Annotations, annotations)
	out.Config.MediaType = oci(m.Config.MediaType)
	for i, l := range m.Layers {
		l.MediaType = oci(l.MediaType)
		out.Layers[i] = l
	}
	return json.Marshal(out)
}
