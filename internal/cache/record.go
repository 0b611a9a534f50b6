package cache

import (
	"encoding/json"
	"errors"
	"fmt"

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
// or OCI, as pushed), its skip key and the revision that built it ("" when
// unknown). The same image, key and revision always make the same record.
func NewRecord(image []byte, mediaType, skipKey, revision string) ([]byte, error) {
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
		Annotations: map[string]string{SkipKeyAnnotation: skipKey},
	}
	if revision != "" {
		rec.Annotations[RevisionAnnotation] = revision
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

// RecordRevision returns the revision that built the image a record marks,
// "" when the record does not say (or is no record).
func RecordRevision(record []byte) string {
	var m v1.Manifest
	if err := json.Unmarshal(record, &m); err != nil {
		return ""
	}
	return m.Annotations[RevisionAnnotation]
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
