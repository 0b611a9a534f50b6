package cache

import (
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Layer is one layer of a pushed image: its digest and compressed size from
// the manifest, and the history entry that made it, from the config.
type Layer struct {
	Digest    string
	Size      int64
	CreatedBy string // "" when the config's history does not say
}

// ImageLayers reads an image manifest: its config's digest and its layers in
// order. An index, or anything that is not an image manifest, is an error.
func ImageLayers(manifest []byte) (config string, layers []Layer, err error) {
	var m v1.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil || m.Config.Digest == "" {
		return "", nil, errors.New("reading the image's layers: not an image manifest")
	}
	for _, l := range m.Layers {
		layers = append(layers, Layer{Digest: l.Digest.String(), Size: l.Size})
	}
	return m.Config.Digest.String(), layers, nil
}

// ImageSize is an image's size as ECR counts imageSizeInBytes: the sum of
// its compressed layers.
func ImageSize(layers []Layer) int64 {
	var n int64
	for _, l := range layers {
		n += l.Size
	}
	return n
}

// WithHistory names each layer by the config history entry that made it:
// the entries that are not empty_layer, in order. A history with fewer such
// entries than layers leaves the rest unnamed.
func WithHistory(layers []Layer, config []byte) ([]Layer, error) {
	var c v1.Image
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, fmt.Errorf("reading the image's config: %w", err)
	}
	out := make([]Layer, len(layers))
	copy(out, layers)
	i := 0
	for _, h := range c.History {
		if h.EmptyLayer {
			continue
		}
		if i == len(out) {
			break
		}
		out[i].CreatedBy = h.CreatedBy
		i++
	}
	return out, nil
}
