package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

// Media types of the manifests records are made from and of records.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"

	// SkipKeyAnnotation holds the record's skip key.
	SkipKeyAnnotation = "dev.ms-build.skip-key"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	URLs        []string          `json:"urls,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Subject       *descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// Docker's media types and their OCI equals (the bytes are the same).
var ociType = map[string]string{
	"application/vnd.docker.container.image.v1+json":            "application/vnd.oci.image.config.v1+json",
	"application/vnd.docker.image.rootfs.diff.tar.gzip":         "application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
}

func oci(mediaType string) string {
	if t, ok := ociType[mediaType]; ok {
		return t
	}
	return mediaType
}

// NewRecord makes the record of an image from its manifest (Docker schema 2
// or OCI, as pushed) and its skip key. The same image and key always make
// the same record.
func NewRecord(image []byte, mediaType, skipKey string) ([]byte, error) {
	if mediaType != MediaTypeDockerManifest && mediaType != MediaTypeOCIManifest {
		return nil, fmt.Errorf("recording the skip key: images of media type %s are not supported", mediaType)
	}
	var m manifest
	if err := json.Unmarshal(image, &m); err != nil {
		return nil, fmt.Errorf("recording the skip key: reading the image's manifest: %w", err)
	}
	sum := sha256.Sum256(image)
	rec := manifest{
		SchemaVersion: 2,
		MediaType:     MediaTypeOCIManifest,
		Config:        m.Config,
		Layers:        make([]descriptor, len(m.Layers)),
		Subject:       &descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(image))},
		Annotations:   map[string]string{SkipKeyAnnotation: skipKey},
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
	var m manifest
	if err := json.Unmarshal(record, &m); err != nil {
		return "", "", fmt.Errorf("reading a record: %w", err)
	}
	if m.Subject == nil || m.Annotations[SkipKeyAnnotation] == "" {
		return "", "", ErrNotRecord
	}
	return m.Subject.Digest, m.Annotations[SkipKeyAnnotation], nil
}

// ConfigDigest returns the config digest of an image manifest: the image id
// the engine gives the image.
func ConfigDigest(image []byte) (string, error) {
	var m manifest
	if err := json.Unmarshal(image, &m); err != nil || m.Config.Digest == "" {
		return "", fmt.Errorf("reading the image's config digest: not an image manifest")
	}
	return m.Config.Digest, nil
}
