package ecrlocal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/org/ms-build-action/internal/ociregistry"
)

// image is one manifest of a repository with the tags that point to it.
type image struct {
	digest   string
	tags     []string
	pushedAt time.Time
}

// images lists repository name's manifests: the tagged ones from the registry's tag list, and the
// untagged ones the endpoint has seen pushed (the distribution API cannot list those).
func (s *Server) images(ctx context.Context, name string) ([]image, error) {
	tags, err := s.registry.listTags(ctx, name)
	if err != nil {
		return nil, err
	}
	byDigest := map[string][]string{}
	for _, tag := range tags {
		digest, found, err := s.registry.headManifest(ctx, name, tag)
		if err != nil {
			return nil, err
		}
		if found {
			byDigest[digest] = append(byDigest[digest], tag)
		}
	}
	var untagged []string
	s.mu.Lock()
	if r, ok := s.repos[name]; ok {
		for digest := range r.pushedAt {
			if _, ok := byDigest[digest]; !ok {
				untagged = append(untagged, digest)
			}
		}
	}
	s.mu.Unlock()
	for _, digest := range untagged {
		_, found, err := s.registry.headManifest(ctx, name, digest)
		if err != nil {
			return nil, err
		}
		if found {
			byDigest[digest] = nil
		} else {
			s.forget(name, digest)
		}
	}
	out := make([]image, 0, len(byDigest))
	for digest, tags := range byDigest {
		slices.Sort(tags)
		out = append(out, image{digest: digest, tags: tags, pushedAt: s.observe(name, digest)})
	}
	slices.SortFunc(out, func(a, b image) int { return strings.Compare(a.digest, b.digest) })
	return out, nil
}

// forget drops digest from what the endpoint knows repository name holds.
func (s *Server) forget(name, digest string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[name]; ok {
		delete(r.pushedAt, digest)
	}
}

type imageIdentifier struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

type imageFailure struct {
	ImageID       imageIdentifier `json:"imageId"`
	FailureCode   string          `json:"failureCode"`
	FailureReason string          `json:"failureReason"`
}

// checkIdentifier returns the failure ECR reports for a malformed image id, or nil.
func checkIdentifier(id imageIdentifier) *imageFailure {
	fail := func(code, reason string) *imageFailure {
		return &imageFailure{ImageID: id, FailureCode: code, FailureReason: reason}
	}
	switch {
	case id.ImageDigest == "" && id.ImageTag == "":
		return fail("MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null")
	case id.ImageDigest != "" && !ociregistry.IsDigest(id.ImageDigest):
		return fail("InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex 'sha256:[a-f0-9]{64}'")
	case id.ImageTag != "" && !isTag(id.ImageTag):
		return fail("InvalidImageTag", "Invalid request parameters: image tag should satisfy the regex '[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}'")
	}
	return nil
}

// find returns the image id names among images, or the failure ECR reports for it.
func find(images []image, id imageIdentifier) (image, *imageFailure) {
	if f := checkIdentifier(id); f != nil {
		return image{}, f
	}
	for _, img := range images {
		hasTag := id.ImageTag != "" && slices.Contains(img.tags, id.ImageTag)
		switch {
		case id.ImageDigest != "" && img.digest == id.ImageDigest:
			if id.ImageTag != "" && !hasTag {
				return image{}, &imageFailure{ImageID: id, FailureCode: "ImageTagDoesNotMatchDigest", FailureReason: "Invalid image digest or tag: the tag does not point to the digest"}
			}
			return img, nil
		case id.ImageDigest == "" && hasTag:
			return img, nil
		case id.ImageDigest != "" && hasTag:
			return image{}, &imageFailure{ImageID: id, FailureCode: "ImageTagDoesNotMatchDigest", FailureReason: "Invalid image digest or tag: the tag does not point to the digest"}
		}
	}
	return image{}, &imageFailure{ImageID: id, FailureCode: "ImageNotFound", FailureReason: "Requested image not found"}
}

func (s *Server) imageNotFound(repo string, id imageIdentifier) *apiError {
	orNull := func(v string) string {
		if v == "" {
			return "null"
		}
		return v
	}
	return clientError("ImageNotFoundException",
		"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
		orNull(id.ImageDigest), orNull(id.ImageTag), repo, s.registryID)
}

type tagStatusFilter struct {
	TagStatus string `json:"tagStatus"`
}

// keep tells whether an image with tags passes the filter.
func (f *tagStatusFilter) keep(tagged bool) (bool, error) {
	if f == nil {
		return true, nil
	}
	switch f.TagStatus {
	case "", "ANY":
		return true, nil
	case "TAGGED":
		return tagged, nil
	case "UNTAGGED":
		return !tagged, nil
	}
	return false, invalidParameter("Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'")
}

type describeImagesInput struct {
	RegistryID     string            `json:"registryId"`
	RepositoryName string            `json:"repositoryName"`
	ImageIDs       []imageIdentifier `json:"imageIds"`
	NextToken      string            `json:"nextToken"`
	MaxResults     *int              `json:"maxResults"`
	Filter         *tagStatusFilter  `json:"filter"`
}

type imageDetail struct {
	RegistryID             string       `json:"registryId"`
	RepositoryName         string       `json:"repositoryName"`
	ImageDigest            string       `json:"imageDigest"`
	ImageTags              []string     `json:"imageTags,omitempty"`
	ImageSizeInBytes       int64        `json:"imageSizeInBytes"`
	ImagePushedAt          epochSeconds `json:"imagePushedAt"`
	ImageManifestMediaType string       `json:"imageManifestMediaType,omitempty"`
	ArtifactMediaType      string       `json:"artifactMediaType,omitempty"`
	ImageStatus            string       `json:"imageStatus"`
}

type describeImagesOutput struct {
	ImageDetails []imageDetail `json:"imageDetails"`
	NextToken    string        `json:"nextToken,omitempty"`
}

// errManifestGone reports a manifest deleted while a listing was being answered.
var errManifestGone = errors.New("the registry no longer has the manifest")

func describeImages(ctx context.Context, s *Server, in *describeImagesInput) (any, error) {
	if _, err := s.lookup(in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	if len(in.ImageIDs) > 0 && (in.MaxResults != nil || in.NextToken != "") {
		return nil, invalidParameter("Invalid parameter: maxResults and nextToken cannot be used when you specify images with imageIds")
	}
	images, err := s.images(ctx, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	var selected []image
	out := describeImagesOutput{ImageDetails: []imageDetail{}}
	if len(in.ImageIDs) > 0 {
		seen := map[string]bool{}
		for _, id := range in.ImageIDs {
			img, failure := find(images, id)
			switch {
			case failure == nil:
			case failure.FailureCode == "ImageNotFound" || failure.FailureCode == "ImageTagDoesNotMatchDigest":
				return nil, s.imageNotFound(in.RepositoryName, id)
			default:
				return nil, invalidParameter("Invalid parameter at 'imageIds' failed to satisfy constraint: '%s'", failure.FailureReason)
			}
			if !seen[img.digest] {
				seen[img.digest] = true
				selected = append(selected, img)
			}
		}
	} else {
		var filtered []image
		for _, img := range images {
			ok, err := in.Filter.keep(len(img.tags) > 0)
			if err != nil {
				return nil, err
			}
			if ok {
				filtered = append(filtered, img)
			}
		}
		selected, out.NextToken, err = paginate(filtered, func(i image) string { return i.digest },
			"DescribeImages", in.RepositoryName, in.NextToken, in.MaxResults)
		if err != nil {
			return nil, err
		}
	}
	for _, img := range selected {
		detail, err := s.imageDetail(ctx, in.RepositoryName, img)
		if errors.Is(err, errManifestGone) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out.ImageDetails = append(out.ImageDetails, detail)
	}
	return out, nil
}

func (s *Server) imageDetail(ctx context.Context, repo string, img image) (imageDetail, error) {
	info, err := s.manifestInfo(ctx, repo, img.digest)
	if err != nil {
		return imageDetail{}, err
	}
	size, err := s.imageSize(ctx, repo, info, 0)
	if err != nil {
		return imageDetail{}, err
	}
	return imageDetail{
		RegistryID:             s.registryID,
		RepositoryName:         repo,
		ImageDigest:            img.digest,
		ImageTags:              img.tags,
		ImageSizeInBytes:       size,
		ImagePushedAt:          epochSeconds(img.pushedAt),
		ImageManifestMediaType: info.mediaType,
		ArtifactMediaType:      info.configMediaType,
		ImageStatus:            "ACTIVE",
	}, nil
}

type listImagesInput struct {
	RegistryID     string           `json:"registryId"`
	RepositoryName string           `json:"repositoryName"`
	NextToken      string           `json:"nextToken"`
	MaxResults     *int             `json:"maxResults"`
	Filter         *tagStatusFilter `json:"filter"`
}

type listImagesOutput struct {
	ImageIDs  []imageIdentifier `json:"imageIds"`
	NextToken string            `json:"nextToken,omitempty"`
}

func listImages(ctx context.Context, s *Server, in *listImagesInput) (any, error) {
	if _, err := s.lookup(in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	images, err := s.images(ctx, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	// One entry per tag, one for each untagged image, as ECR lists them.
	ids := []imageIdentifier{}
	for _, img := range images {
		ok, err := in.Filter.keep(len(img.tags) > 0)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if len(img.tags) == 0 {
			ids = append(ids, imageIdentifier{ImageDigest: img.digest})
		}
		for _, tag := range img.tags {
			ids = append(ids, imageIdentifier{ImageDigest: img.digest, ImageTag: tag})
		}
	}
	page, next, err := paginate(ids, func(id imageIdentifier) string { return id.ImageDigest + "\x00" + id.ImageTag },
		"ListImages", in.RepositoryName, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return listImagesOutput{ImageIDs: page, NextToken: next}, nil
}

type batchGetImageInput struct {
	RegistryID         string            `json:"registryId"`
	RepositoryName     string            `json:"repositoryName"`
	ImageIDs           []imageIdentifier `json:"imageIds"`
	AcceptedMediaTypes []string          `json:"acceptedMediaTypes"`
}

type imageJSON struct {
	RegistryID             string          `json:"registryId"`
	RepositoryName         string          `json:"repositoryName"`
	ImageID                imageIdentifier `json:"imageId"`
	ImageManifest          string          `json:"imageManifest"`
	ImageManifestMediaType string          `json:"imageManifestMediaType"`
}

type batchGetImageOutput struct {
	Images   []imageJSON    `json:"images"`
	Failures []imageFailure `json:"failures"`
}

func batchGetImage(ctx context.Context, s *Server, in *batchGetImageInput) (any, error) {
	if _, err := s.lookup(in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	if len(in.ImageIDs) == 0 || len(in.ImageIDs) > 100 {
		return nil, invalidParameter("Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and 100'")
	}
	out := batchGetImageOutput{Images: []imageJSON{}, Failures: []imageFailure{}}
	seen := map[imageIdentifier]bool{}
	for _, id := range in.ImageIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		if f := checkIdentifier(id); f != nil {
			out.Failures = append(out.Failures, *f)
			continue
		}
		ref := id.ImageDigest
		if ref == "" {
			ref = id.ImageTag
		}
		m, found, err := s.registry.getManifest(ctx, in.RepositoryName, ref)
		if err != nil {
			return nil, err
		}
		if !found {
			out.Failures = append(out.Failures, imageFailure{ImageID: id, FailureCode: "ImageNotFound", FailureReason: "Requested image not found"})
			continue
		}
		if id.ImageDigest != "" && id.ImageTag != "" {
			tagDigest, found, err := s.registry.headManifest(ctx, in.RepositoryName, id.ImageTag)
			if err != nil {
				return nil, err
			}
			if !found || tagDigest != m.digest {
				out.Failures = append(out.Failures, imageFailure{ImageID: id, FailureCode: "ImageTagDoesNotMatchDigest", FailureReason: "Invalid image digest or tag: the tag does not point to the digest"})
				continue
			}
		}
		mediaType := m.mediaType
		if info, err := parseManifest(m.body, ""); err == nil && info.mediaType != "" {
			mediaType = info.mediaType
		}
		if len(in.AcceptedMediaTypes) > 0 && !slices.Contains(in.AcceptedMediaTypes, mediaType) {
			out.Failures = append(out.Failures, imageFailure{ImageID: id, FailureCode: "ImageNotFound",
				FailureReason: fmt.Sprintf("Requested image not found in an accepted media type: the manifest is %s", mediaType)})
			continue
		}
		s.observe(in.RepositoryName, m.digest)
		out.Images = append(out.Images, imageJSON{
			RegistryID:             s.registryID,
			RepositoryName:         in.RepositoryName,
			ImageID:                imageIdentifier{ImageDigest: m.digest, ImageTag: id.ImageTag},
			ImageManifest:          string(m.body),
			ImageManifestMediaType: mediaType,
		})
	}
	return out, nil
}

type putImageInput struct {
	RegistryID             string `json:"registryId"`
	RepositoryName         string `json:"repositoryName"`
	ImageManifest          string `json:"imageManifest"`
	ImageManifestMediaType string `json:"imageManifestMediaType"`
	ImageTag               string `json:"imageTag"`
	ImageDigest            string `json:"imageDigest"`
}

func putImage(ctx context.Context, s *Server, in *putImageInput) (any, error) {
	r, err := s.lookup(in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	name := in.RepositoryName
	if in.ImageManifest == "" {
		return nil, invalidParameter("Invalid parameter at 'imageManifest' failed to satisfy constraint: 'must not be null'")
	}
	body := []byte(in.ImageManifest)
	var head struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, invalidParameter("Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'")
	}
	mediaType := head.MediaType
	switch {
	case mediaType == "" && in.ImageManifestMediaType == "":
		return nil, invalidParameter("Invalid parameter at 'imageManifestMediaType' failed to satisfy constraint: 'required when the manifest has no mediaType field'")
	case mediaType == "":
		mediaType = in.ImageManifestMediaType
	case in.ImageManifestMediaType != "" && in.ImageManifestMediaType != mediaType:
		return nil, invalidParameter("Invalid parameter at 'imageManifestMediaType' failed to satisfy constraint: 'must match the mediaType field of the manifest (%s)'", mediaType)
	}
	info, err := parseManifest(body, mediaType)
	if err != nil {
		return nil, invalidParameter("Invalid parameter at 'ImageManifest' failed to satisfy constraint: '%s'", strings.TrimPrefix(err.Error(), "decoding manifest: "))
	}
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if in.ImageDigest != "" && in.ImageDigest != digest {
		return nil, clientError("ImageDigestDoesNotMatchException",
			"The provided image digest '%s' does not match the digest of the image manifest '%s'", in.ImageDigest, digest)
	}
	if in.ImageTag != "" && !isTag(in.ImageTag) {
		return nil, invalidParameter("Invalid parameter at 'imageTag' failed to satisfy constraint: 'must satisfy regular expression '[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}''")
	}

	var missing []string
	for _, blob := range info.blobs {
		ok, err := s.registry.blobExists(ctx, name, blob)
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, blob)
		}
	}
	if len(missing) > 0 {
		return nil, clientError("LayersNotFoundException",
			"Layers with digests '[%s]' required for pushing image into repository with name '%s' in the registry with id '%s' do not exist",
			strings.Join(missing, ", "), name, s.registryID)
	}
	for _, child := range info.children {
		_, found, err := s.registry.headManifest(ctx, name, child)
		if err != nil {
			return nil, err
		}
		if !found {
			missing = append(missing, child)
		}
	}
	if len(missing) > 0 {
		return nil, clientError("ReferencedImagesNotFoundException",
			"Manifest references images that do not exist in the repository with name '%s' in the registry with id '%s': [%s]",
			name, s.registryID, strings.Join(missing, ", "))
	}

	ref := digest
	if in.ImageTag != "" {
		ref = in.ImageTag
		current, found, err := s.registry.headManifest(ctx, name, in.ImageTag)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		locked := r.tagImmutable(in.ImageTag)
		s.mu.Unlock()
		// ECR refuses an immutable tag even when it already points to this manifest.
		if found && locked {
			return nil, s.tagAlreadyExists(name, in.ImageTag)
		}
		if found && current == digest {
			return nil, clientError("ImageAlreadyExistsException",
				"Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'",
				digest, in.ImageTag, name, s.registryID)
		}
	} else {
		_, found, err := s.registry.headManifest(ctx, name, digest)
		if err != nil {
			return nil, err
		}
		if found {
			return nil, clientError("ImageAlreadyExistsException",
				"Image with digest '%s' already exists in the repository with name '%s' in registry with id '%s'",
				digest, name, s.registryID)
		}
	}
	if err := s.registry.putManifest(ctx, name, ref, mediaType, body); err != nil {
		var re *registryError
		if errors.As(err, &re) {
			switch {
			case re.code == "TAG_INVALID":
				return nil, s.tagAlreadyExists(name, in.ImageTag)
			case re.code == "NAME_UNKNOWN":
				return nil, s.repositoryNotFound(name)
			case re.code == "MANIFEST_BLOB_UNKNOWN" || re.code == "BLOB_UNKNOWN":
				return nil, clientError("LayersNotFoundException", "Layers required for pushing image into repository with name '%s' in the registry with id '%s' do not exist: %s", name, s.registryID, re.message)
			case re.status == http.StatusBadRequest:
				return nil, invalidParameter("Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'the registry refused the manifest: %s %s'", re.code, re.message)
			}
		}
		return nil, err
	}
	s.observe(name, digest)
	s.mu.Lock()
	s.manifests[digest] = info
	s.mu.Unlock()
	return map[string]imageJSON{"image": {
		RegistryID:             s.registryID,
		RepositoryName:         name,
		ImageID:                imageIdentifier{ImageDigest: digest, ImageTag: in.ImageTag},
		ImageManifest:          in.ImageManifest,
		ImageManifestMediaType: mediaType,
	}}, nil
}

// tagImmutableMessage is ECR's wording, in PutImage errors and in the registry's TAG_INVALID.
func tagImmutableMessage(repo, tag string) string {
	return fmt.Sprintf("The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the tag is immutable.", tag, repo)
}

func (s *Server) tagAlreadyExists(repo, tag string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ImageTagAlreadyExistsException", message: tagImmutableMessage(repo, tag)}
}

type batchDeleteImageInput struct {
	RegistryID     string            `json:"registryId"`
	RepositoryName string            `json:"repositoryName"`
	ImageIDs       []imageIdentifier `json:"imageIds"`
}

type batchDeleteImageOutput struct {
	ImageIDs []imageIdentifier `json:"imageIds"`
	Failures []imageFailure    `json:"failures"`
}

func batchDeleteImage(ctx context.Context, s *Server, in *batchDeleteImageInput) (any, error) {
	if _, err := s.lookup(in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	name := in.RepositoryName
	if len(in.ImageIDs) == 0 || len(in.ImageIDs) > 100 {
		return nil, invalidParameter("Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and 100'")
	}
	images, err := s.images(ctx, name)
	if err != nil {
		return nil, err
	}
	out := batchDeleteImageOutput{ImageIDs: []imageIdentifier{}, Failures: []imageFailure{}}
	seen := map[imageIdentifier]bool{}
	for _, id := range in.ImageIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		img, failure := find(images, id)
		if failure != nil {
			out.Failures = append(out.Failures, *failure)
			continue
		}
		parents, err := s.parentIndexes(ctx, name, images, img.digest)
		if err != nil {
			return nil, err
		}
		var tags []string
		if id.ImageTag != "" {
			tags = []string{id.ImageTag}
		} else {
			if len(parents) > 0 {
				out.Failures = append(out.Failures, imageFailure{ImageID: id, FailureCode: "ImageReferencedByManifestList",
					FailureReason: fmt.Sprintf("Requested image referenced by manifest list: [%s]", strings.Join(parents, ", "))})
				continue
			}
			tags = img.tags
		}
		for _, tag := range tags {
			if _, err := s.registry.deleteManifest(ctx, name, tag); err != nil {
				return nil, err
			}
			out.ImageIDs = append(out.ImageIDs, imageIdentifier{ImageDigest: img.digest, ImageTag: tag})
		}
		left := slices.DeleteFunc(slices.Clone(img.tags), func(t string) bool { return slices.Contains(tags, t) })
		// As in ECR, removing an image's last tag removes the image, unless an index still uses it.
		if len(left) == 0 && len(parents) == 0 {
			if _, err := s.registry.deleteManifest(ctx, name, img.digest); err != nil {
				return nil, err
			}
			if len(tags) == 0 {
				out.ImageIDs = append(out.ImageIDs, imageIdentifier{ImageDigest: img.digest})
			}
			s.forget(name, img.digest)
			images = slices.DeleteFunc(images, func(i image) bool { return i.digest == img.digest })
			continue
		}
		for i := range images {
			if images[i].digest == img.digest {
				images[i].tags = left
			}
		}
	}
	return out, nil
}

// parentIndexes returns the digests of the indexes among images that reference digest.
func (s *Server) parentIndexes(ctx context.Context, repo string, images []image, digest string) ([]string, error) {
	var parents []string
	for _, img := range images {
		info, err := s.manifestInfo(ctx, repo, img.digest)
		if errors.Is(err, errManifestGone) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if slices.Contains(info.children, digest) {
			parents = append(parents, img.digest)
		}
	}
	return parents, nil
}
