package ecrlocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/org/ms-build-action/internal/ociregistry"
)

const (
	mediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

func isIndexMediaType(mt string) bool { return mt == mediaTypeOCIIndex || mt == mediaTypeDockerList }

func isImageMediaType(mt string) bool {
	return mt == mediaTypeOCIManifest || mt == mediaTypeDockerManifest
}

type descriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// manifest holds the fields of an image manifest or an index that the endpoint reads.
type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	ArtifactType  string       `json:"artifactType"`
	Config        *descriptor  `json:"config"`
	Layers        []descriptor `json:"layers"`
	Manifests     []descriptor `json:"manifests"`
}

// manifestInfo is what DescribeImages and PutImage need to know about a manifest.
type manifestInfo struct {
	mediaType       string
	configMediaType string
	layerBytes      int64    // sum of the layers' (compressed) sizes; image manifests only
	children        []string // digests of an index's manifests
	blobs           []string // digests of the config and layers; image manifests only
}

// parseManifest reads body as a manifest of mediaType; an empty mediaType is taken from the body.
func parseManifest(body []byte, mediaType string) (*manifestInfo, error) {
	var m manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", err)
	}
	if mediaType == "" {
		mediaType = m.MediaType
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("decoding manifest: schemaVersion %d is not supported", m.SchemaVersion)
	}
	info := &manifestInfo{mediaType: mediaType}
	switch {
	case isImageMediaType(mediaType):
		if m.Config == nil || !ociregistry.IsDigest(m.Config.Digest) {
			return nil, fmt.Errorf("decoding manifest: an image manifest needs a config descriptor with a sha256 digest")
		}
		info.configMediaType = m.Config.MediaType
		info.blobs = append(info.blobs, m.Config.Digest)
		for _, l := range m.Layers {
			if !ociregistry.IsDigest(l.Digest) {
				return nil, fmt.Errorf("decoding manifest: layer digest %q is not a sha256 digest", l.Digest)
			}
			info.layerBytes += l.Size
			info.blobs = append(info.blobs, l.Digest)
		}
	case isIndexMediaType(mediaType):
		for _, d := range m.Manifests {
			if !ociregistry.IsDigest(d.Digest) {
				return nil, fmt.Errorf("decoding manifest: manifest digest %q is not a sha256 digest", d.Digest)
			}
			info.children = append(info.children, d.Digest)
		}
	default:
		return nil, fmt.Errorf("decoding manifest: media type %q is not supported", mediaType)
	}
	return info, nil
}

// manifestInfo returns the parsed manifest digest of repo, reading it from the registry once.
func (s *Server) manifestInfo(ctx context.Context, repo, digest string) (*manifestInfo, error) {
	s.mu.Lock()
	info, ok := s.manifests[digest]
	s.mu.Unlock()
	if ok {
		return info, nil
	}
	m, found, err := s.registry.getManifest(ctx, repo, digest)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("getting manifest %s@%s: %w", repo, digest, errManifestGone)
	}
	info, err = parseManifest(m.body, m.mediaType)
	if err != nil {
		return nil, fmt.Errorf("reading %s@%s: %w", repo, digest, err)
	}
	s.mu.Lock()
	s.manifests[digest] = info
	s.mu.Unlock()
	return info, nil
}

// imageSize is imageSizeInBytes as ECR counts it: the sum of an image's compressed layer sizes (its
// config and manifest not counted) and, for an index, the largest of its images' sizes (ECR's API
// reference: "If the image is a manifest list, this will be the max size of all manifests in the
// list"). Images of an index that the repository does not hold count as 0.
func (s *Server) imageSize(ctx context.Context, repo string, info *manifestInfo, depth int) (int64, error) {
	if len(info.children) == 0 || depth > 2 {
		return info.layerBytes, nil
	}
	var largest int64
	for _, child := range info.children {
		ci, err := s.manifestInfo(ctx, repo, child)
		if errors.Is(err, errManifestGone) {
			continue
		}
		if err != nil {
			return 0, err
		}
		size, err := s.imageSize(ctx, repo, ci, depth+1)
		if err != nil {
			return 0, err
		}
		largest = max(largest, size)
	}
	return largest, nil
}
