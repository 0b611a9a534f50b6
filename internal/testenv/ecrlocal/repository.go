package ecrlocal

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

const (
	mutable                = "MUTABLE"
	immutable              = "IMMUTABLE"
	immutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	mutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

// repository is the endpoint's record of a repository; the registry holds its content.
type repository struct {
	name       string
	createdAt  time.Time
	mutability string
	exclusions []exclusionFilter
	scanOnPush bool
	encryption encryptionConfiguration
	lifecycle  string               // policy text, "" when none
	pushedAt   map[string]time.Time // manifests seen in this repository, by digest
}

// tagImmutable tells whether a push may not move tag, given the repository's mutability settings.
func (r *repository) tagImmutable(tag string) bool {
	matches := slices.ContainsFunc(r.exclusions, func(f exclusionFilter) bool { return wildcardMatch(f.Filter, tag) })
	switch r.mutability {
	case immutable:
		return true
	case immutableWithExclusion:
		return !matches
	case mutableWithExclusion:
		return matches
	default:
		return false
	}
}

type exclusionFilter struct {
	FilterType string `json:"filterType"`
	Filter     string `json:"filter"`
}

type scanningConfiguration struct {
	ScanOnPush bool `json:"scanOnPush"`
}

type encryptionConfiguration struct {
	EncryptionType string `json:"encryptionType"`
	KmsKey         string `json:"kmsKey,omitempty"`
}

type repositoryJSON struct {
	RepositoryArn                      string                  `json:"repositoryArn"`
	RegistryID                         string                  `json:"registryId"`
	RepositoryName                     string                  `json:"repositoryName"`
	RepositoryURI                      string                  `json:"repositoryUri"`
	CreatedAt                          epochSeconds            `json:"createdAt"`
	ImageTagMutability                 string                  `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []exclusionFilter       `json:"imageTagMutabilityExclusionFilters,omitempty"`
	ImageScanningConfiguration         scanningConfiguration   `json:"imageScanningConfiguration"`
	EncryptionConfiguration            encryptionConfiguration `json:"encryptionConfiguration"`
}

// repositoryJSON describes r; the caller holds s.mu.
func (s *Server) repositoryJSON(r *repository) repositoryJSON {
	return repositoryJSON{
		RepositoryArn:                      fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", s.region, s.registryID, r.name),
		RegistryID:                         s.registryID,
		RepositoryName:                     r.name,
		RepositoryURI:                      s.host + "/" + r.name,
		CreatedAt:                          epochSeconds(r.createdAt),
		ImageTagMutability:                 r.mutability,
		ImageTagMutabilityExclusionFilters: slices.Clone(r.exclusions),
		ImageScanningConfiguration:         scanningConfiguration{ScanOnPush: r.scanOnPush},
		EncryptionConfiguration:            r.encryption,
	}
}

// lookup validates a repository reference and returns the repository; the caller must not hold s.mu
// and reads the result's fields under it.
func (s *Server) lookup(registryID, name string) (*repository, error) {
	if err := validateRepositoryName(name); err != nil {
		return nil, err
	}
	if registryID != "" && registryID != s.registryID {
		return nil, clientError("RepositoryNotFoundException",
			"The repository with name '%s' does not exist in the registry with id '%s'", name, registryID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[name]
	if !ok {
		return nil, s.repositoryNotFound(name)
	}
	return r, nil
}

// observe records that repository name holds digest and returns when it was first seen.
func (s *Server) observe(name, digest string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[name]
	if !ok {
		return s.now()
	}
	if t, ok := r.pushedAt[digest]; ok {
		return t
	}
	t := s.now()
	r.pushedAt[digest] = t
	return t
}

func validateMutability(mutability string, filters []exclusionFilter) error {
	switch mutability {
	case mutable, immutable:
		if len(filters) > 0 {
			return invalidParameter("Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'exclusion filters are allowed only with %s or %s'",
				immutableWithExclusion, mutableWithExclusion)
		}
	case immutableWithExclusion, mutableWithExclusion:
		if len(filters) == 0 || len(filters) > 5 {
			return invalidParameter("Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: '%s needs 1 to 5 exclusion filters'", mutability)
		}
		for _, f := range filters {
			if f.FilterType != "WILDCARD" || f.Filter == "" || len(f.Filter) > 128 ||
				strings.Trim(f.Filter, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._*-") != "" {
				return invalidParameter("Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: 'filterType must be WILDCARD and filter 1 to 128 characters of [a-zA-Z0-9._*-]'")
			}
		}
	default:
		return invalidParameter("Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [%s, %s, %s, %s]'",
			mutable, immutable, immutableWithExclusion, mutableWithExclusion)
	}
	return nil
}

type getAuthorizationTokenInput struct {
	RegistryIDs []string `json:"registryIds"`
}

type authorizationData struct {
	AuthorizationToken string       `json:"authorizationToken"`
	ExpiresAt          epochSeconds `json:"expiresAt"`
	ProxyEndpoint      string       `json:"proxyEndpoint"`
}

func getAuthorizationToken(_ context.Context, s *Server, in *getAuthorizationTokenInput) (any, error) {
	for _, id := range in.RegistryIDs {
		if id != s.registryID {
			return nil, invalidParameter("Invalid parameter at 'registryIds' failed to satisfy constraint: 'this endpoint serves only the registry with id '%s''", s.registryID)
		}
	}
	password, expiresAt, err := s.tokens.issue()
	if err != nil {
		return nil, err
	}
	return map[string][]authorizationData{"authorizationData": {{
		AuthorizationToken: base64.StdEncoding.EncodeToString([]byte("AWS:" + password)),
		ExpiresAt:          epochSeconds(expiresAt),
		ProxyEndpoint:      s.registryURL,
	}}}, nil
}

type createRepositoryInput struct {
	RegistryID                         string                   `json:"registryId"`
	RepositoryName                     string                   `json:"repositoryName"`
	ImageTagMutability                 string                   `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []exclusionFilter        `json:"imageTagMutabilityExclusionFilters"`
	ImageScanningConfiguration         *scanningConfiguration   `json:"imageScanningConfiguration"`
	EncryptionConfiguration            *encryptionConfiguration `json:"encryptionConfiguration"`
}

func createRepository(_ context.Context, s *Server, in *createRepositoryInput) (any, error) {
	if err := validateRepositoryName(in.RepositoryName); err != nil {
		return nil, err
	}
	if in.RegistryID != "" && in.RegistryID != s.registryID {
		return nil, invalidParameter("Invalid parameter at 'registryId' failed to satisfy constraint: 'this endpoint serves only the registry with id '%s''", s.registryID)
	}
	if in.ImageTagMutability == "" {
		in.ImageTagMutability = mutable
	}
	if err := validateMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters); err != nil {
		return nil, err
	}
	enc := encryptionConfiguration{EncryptionType: "AES256"}
	if in.EncryptionConfiguration != nil {
		switch in.EncryptionConfiguration.EncryptionType {
		case "AES256", "KMS", "KMS_DSSE":
			enc = *in.EncryptionConfiguration
		default:
			return nil, invalidParameter("Invalid parameter at 'encryptionConfiguration.encryptionType' failed to satisfy constraint: 'Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]'")
		}
	}
	r := &repository{
		name:       in.RepositoryName,
		createdAt:  s.now(),
		mutability: in.ImageTagMutability,
		exclusions: in.ImageTagMutabilityExclusionFilters,
		scanOnPush: in.ImageScanningConfiguration != nil && in.ImageScanningConfiguration.ScanOnPush,
		encryption: enc,
		pushedAt:   map[string]time.Time{},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.repos[r.name]; ok {
		return nil, clientError("RepositoryAlreadyExistsException",
			"The repository with name '%s' already exists in the registry with id '%s'", r.name, s.registryID)
	}
	s.repos[r.name] = r
	return map[string]repositoryJSON{"repository": s.repositoryJSON(r)}, nil
}

type describeRepositoriesInput struct {
	RegistryID      string   `json:"registryId"`
	RepositoryNames []string `json:"repositoryNames"`
	NextToken       string   `json:"nextToken"`
	MaxResults      *int     `json:"maxResults"`
}

type describeRepositoriesOutput struct {
	Repositories []repositoryJSON `json:"repositories"`
	NextToken    string           `json:"nextToken,omitempty"`
}

func describeRepositories(_ context.Context, s *Server, in *describeRepositoriesInput) (any, error) {
	if len(in.RepositoryNames) > 0 {
		if in.MaxResults != nil || in.NextToken != "" {
			return nil, invalidParameter("Invalid parameter: maxResults and nextToken cannot be used when you specify repositories with repositoryNames")
		}
		var out describeRepositoriesOutput
		seen := map[string]bool{}
		for _, name := range in.RepositoryNames {
			r, err := s.lookup(in.RegistryID, name)
			if err != nil {
				return nil, err
			}
			if seen[name] {
				continue
			}
			seen[name] = true
			s.mu.Lock()
			out.Repositories = append(out.Repositories, s.repositoryJSON(r))
			s.mu.Unlock()
		}
		return out, nil
	}
	if in.RegistryID != "" && in.RegistryID != s.registryID {
		return describeRepositoriesOutput{Repositories: []repositoryJSON{}}, nil
	}
	s.mu.Lock()
	all := make([]repositoryJSON, 0, len(s.repos))
	for _, r := range s.repos {
		all = append(all, s.repositoryJSON(r))
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b repositoryJSON) int { return strings.Compare(a.RepositoryName, b.RepositoryName) })
	items, next, err := paginate(all, func(r repositoryJSON) string { return r.RepositoryName },
		"DescribeRepositories", s.registryID, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	return describeRepositoriesOutput{Repositories: items, NextToken: next}, nil
}

type deleteRepositoryInput struct {
	RegistryID     string `json:"registryId"`
	RepositoryName string `json:"repositoryName"`
	Force          bool   `json:"force"`
}

func deleteRepository(ctx context.Context, s *Server, in *deleteRepositoryInput) (any, error) {
	if _, err := s.lookup(in.RegistryID, in.RepositoryName); err != nil {
		return nil, err
	}
	images, err := s.images(ctx, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if len(images) > 0 && !in.Force {
		return nil, clientError("RepositoryNotEmptyException",
			"The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images",
			in.RepositoryName, s.registryID)
	}
	// Tags first: some registries keep a tag when its manifest is deleted by digest.
	for _, img := range images {
		for _, tag := range img.tags {
			if _, err := s.registry.deleteManifest(ctx, in.RepositoryName, tag); err != nil {
				return nil, err
			}
		}
	}
	for _, img := range images {
		if _, err := s.registry.deleteManifest(ctx, in.RepositoryName, img.digest); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[in.RepositoryName]
	if !ok {
		return nil, s.repositoryNotFound(in.RepositoryName)
	}
	delete(s.repos, in.RepositoryName)
	return map[string]repositoryJSON{"repository": s.repositoryJSON(r)}, nil
}

type putImageTagMutabilityInput struct {
	RegistryID                         string            `json:"registryId"`
	RepositoryName                     string            `json:"repositoryName"`
	ImageTagMutability                 string            `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []exclusionFilter `json:"imageTagMutabilityExclusionFilters"`
}

type putImageTagMutabilityOutput struct {
	RegistryID                         string            `json:"registryId"`
	RepositoryName                     string            `json:"repositoryName"`
	ImageTagMutability                 string            `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []exclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
}

func putImageTagMutability(_ context.Context, s *Server, in *putImageTagMutabilityInput) (any, error) {
	r, err := s.lookup(in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if err := validateMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mutability, r.exclusions = in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters
	return putImageTagMutabilityOutput{RegistryID: s.registryID, RepositoryName: r.name,
		ImageTagMutability: r.mutability, ImageTagMutabilityExclusionFilters: r.exclusions}, nil
}

type putImageScanningConfigurationInput struct {
	RegistryID                 string                 `json:"registryId"`
	RepositoryName             string                 `json:"repositoryName"`
	ImageScanningConfiguration *scanningConfiguration `json:"imageScanningConfiguration"`
}

type putImageScanningConfigurationOutput struct {
	RegistryID                 string                `json:"registryId"`
	RepositoryName             string                `json:"repositoryName"`
	ImageScanningConfiguration scanningConfiguration `json:"imageScanningConfiguration"`
}

func putImageScanningConfiguration(_ context.Context, s *Server, in *putImageScanningConfigurationInput) (any, error) {
	r, err := s.lookup(in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if in.ImageScanningConfiguration == nil {
		return nil, invalidParameter("Invalid parameter at 'imageScanningConfiguration' failed to satisfy constraint: 'must not be null'")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.scanOnPush = in.ImageScanningConfiguration.ScanOnPush
	return putImageScanningConfigurationOutput{RegistryID: s.registryID, RepositoryName: r.name,
		ImageScanningConfiguration: scanningConfiguration{ScanOnPush: r.scanOnPush}}, nil
}

type lifecyclePolicyInput struct {
	RegistryID          string `json:"registryId"`
	RepositoryName      string `json:"repositoryName"`
	LifecyclePolicyText string `json:"lifecyclePolicyText"`
}

type lifecyclePolicyOutput struct {
	RegistryID          string `json:"registryId"`
	RepositoryName      string `json:"repositoryName"`
	LifecyclePolicyText string `json:"lifecyclePolicyText"`
}

func putLifecyclePolicy(_ context.Context, s *Server, in *lifecyclePolicyInput) (any, error) {
	r, err := s.lookup(in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if err := validateLifecyclePolicy(in.LifecyclePolicyText); err != nil {
		return nil, invalidParameter("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: %s'", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r.lifecycle = in.LifecyclePolicyText
	return lifecyclePolicyOutput{RegistryID: s.registryID, RepositoryName: r.name, LifecyclePolicyText: r.lifecycle}, nil
}

func getLifecyclePolicy(_ context.Context, s *Server, in *lifecyclePolicyInput) (any, error) {
	return s.lifecyclePolicy(in, false)
}

func deleteLifecyclePolicy(_ context.Context, s *Server, in *lifecyclePolicyInput) (any, error) {
	return s.lifecyclePolicy(in, true)
}

func (s *Server) lifecyclePolicy(in *lifecyclePolicyInput, remove bool) (any, error) {
	r, err := s.lookup(in.RegistryID, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.lifecycle == "" {
		return nil, clientError("LifecyclePolicyNotFoundException",
			"Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", r.name, s.registryID)
	}
	out := lifecyclePolicyOutput{RegistryID: s.registryID, RepositoryName: r.name, LifecyclePolicyText: r.lifecycle}
	if remove {
		r.lifecycle = ""
	}
	return out, nil
}

// paginate returns the page of items (sorted by key) after token, and the token of the next page.
// ECR's pages hold at most 1000 entries, 100 when maxResults is not given.
func paginate[T any](items []T, key func(T) string, operation, scope, token string, maxResults *int) ([]T, string, error) {
	limit := 100
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 1000 {
			return nil, "", invalidParameter("Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 1000'")
		}
		limit = *maxResults
	}
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		parts := strings.SplitN(string(raw), "\x00", 3)
		if err != nil || len(parts) != 3 || parts[0] != operation || parts[1] != scope {
			return nil, "", invalidParameter("Invalid parameter at 'nextToken' failed to satisfy constraint: 'must be a token returned by %s for the same request'", operation)
		}
		start, _ = slices.BinarySearchFunc(items, parts[2], func(item T, k string) int { return strings.Compare(key(item), k) })
		if start < len(items) && key(items[start]) == parts[2] {
			start++
		}
	}
	end := min(start+limit, len(items))
	page := items[start:end]
	if end == len(items) {
		return page, "", nil
	}
	next := base64.RawURLEncoding.EncodeToString([]byte(operation + "\x00" + scope + "\x00" + key(items[end-1])))
	return page, next, nil
}
