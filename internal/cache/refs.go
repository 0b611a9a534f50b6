package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Tag prefixes: every tag ms-build pushes for itself starts with one. The
// repository's lifecycle policy expires the cache and skip tags; a staging
// tag lives only while a run pushes and checks its image.
const (
	CacheTagPrefix   = "buildcache-"
	BranchTagPrefix  = CacheTagPrefix + "branch-"
	RuntimeTagPrefix = CacheTagPrefix + "runtime-"
	SkipTagPrefix    = ownTagPrefix + "skip-"
	StagingTagPrefix = ownTagPrefix + "staging-"

	// ownTagPrefix starts ms-build's tags that are not build caches.
	ownTagPrefix = "msb-"
)

// ReservedTagPrefix returns the prefix of ms-build's own tags that tag
// starts with, if any. A tag a user asks for may not start with one: the
// lifecycle policy would expire it, or a run would take it for its own.
func ReservedTagPrefix(tag string) (prefix string, ok bool) {
	for _, p := range []string{CacheTagPrefix, ownTagPrefix} {
		if strings.HasPrefix(tag, p) {
			return p, true
		}
	}
	return "", false
}

// maxTagLength is the longest tag ECR (and the OCI distribution spec)
// accepts.
const maxTagLength = 128

// CacheTag is the tag the build stage's cache is pushed under for key k.
func CacheTag(k Key) string { return CacheTagPrefix + k.Short() }

// BranchCacheTag is the tag the build stage's cache of a branch is pushed
// under, the fallback when no cache exists for the dependency key. A branch
// name made only of characters a tag may hold (A-Z a-z 0-9 _ . -), without
// "..", that fits in the 110 characters a tag has after the prefix, is used
// as it is. Any other is sanitized (each run of other characters becomes
// "-", a long name is cut) and followed by ".." and 16 hex characters of the
// SHA-256 of the whole name. As a name used as it is never holds "..", no two
// branches get the same tag.
func BranchCacheTag(branch string) string { return branchTag(BranchTagPrefix, branch) }

// RuntimeCacheTag is the tag of the record of the branch's latest runtime
// image, which the branch's next build uses as cache for its runtime stage.
// Branch names become tags as in BranchCacheTag.
func RuntimeCacheTag(branch string) string { return branchTag(RuntimeTagPrefix, branch) }

func branchTag(prefix, branch string) string {
	room := maxTagLength - len(prefix)
	if len(branch) <= room && cleanTagPart(branch) {
		return prefix + branch
	}
	sum := sha256.Sum256([]byte(branch))
	suffix := ".." + hex.EncodeToString(sum[:8])
	s := sanitizeTagPart(branch)
	if len(s) > room-len(suffix) {
		s = s[:room-len(suffix)]
	}
	s = strings.TrimRight(s, ".-")
	return prefix + s + suffix
}

// SkipTag is the tag that marks the image built for skipKey.
func SkipTag(skipKey string) string {
	if len(skipKey) > 32 {
		skipKey = skipKey[:32]
	}
	return SkipTagPrefix + skipKey
}

func tagByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

// cleanTagPart reports whether s can follow a tag prefix unchanged.
func cleanTagPart(s string) bool {
	if s == "" || strings.Contains(s, "..") {
		return false
	}
	for i := range len(s) {
		if !tagByte(s[i]) {
			return false
		}
	}
	return true
}

// sanitizeTagPart replaces each run of characters a tag cannot hold with a
// "-".
func sanitizeTagPart(s string) string {
	var b strings.Builder
	run := false
	for _, r := range s {
		if r < 0x80 && tagByte(byte(r)) {
			b.WriteRune(r)
			run = false
			continue
		}
		if !run {
			b.WriteByte('-')
			run = true
		}
	}
	return b.String()
}

// ExpiringTagPrefixes start the tags a repository ms-build creates expires:
// build caches and skip records. Both are tags on images no release tag
// points at (build stages, and records), so expiring them never expires a
// released image: registries expire whole images, not single tags.
var ExpiringTagPrefixes = []string{CacheTagPrefix, SkipTagPrefix}
