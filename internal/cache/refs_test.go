package cache

import (
	"regexp"
	"strings"
	"testing"
)

// ecrTag is the tag syntax ECR accepts.
var ecrTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// TestCacheTag proves the dependency cache tag is the prefix and the short
// key.
func TestCacheTag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  Key
		want string
	}{
		{name: "full key", key: Key{Hex: "3f9c2a1b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"}, want: "buildcache-3f9c2a1b4d5e6f70"},
		{name: "short key", key: Key{Hex: "abc"}, want: "buildcache-abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CacheTag(tt.key); got != tt.want {
				t.Errorf("CacheTag = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSkipTag proves the skip tag is the prefix and 32 hex characters of the
// key.
func TestSkipTag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  string
		want string
	}{
		{name: "full key", key: "d21c996db040bffdc48def44a3e72699c5e59ea931eeb242b0a3477f92da2601", want: "msb-skip-d21c996db040bffdc48def44a3e72699"},
		{name: "short key", key: "d21c", want: "msb-skip-d21c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := SkipTag(tt.key); got != tt.want {
				t.Errorf("SkipTag = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBranchCacheTag proves that every branch name gives a valid ECR tag,
// that a name that is already valid stays readable, and that names that
// sanitize alike still get different tags.
func TestBranchCacheTag(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 300)
	tests := []struct {
		name   string
		branch string
		want   string // "" checks only validity; a trailing "*" is a prefix
	}{
		{name: "simple", branch: "main", want: "buildcache-branch-main"},
		{name: "dots dashes underscores", branch: "release-1.2_x", want: "buildcache-branch-release-1.2_x"},
		{name: "slash", branch: "feature/ABC-1", want: "buildcache-branch-feature-ABC-1..*"},
		{name: "unicode", branch: "fix/ünïcode-名前", want: "buildcache-branch-fix-n-code..*"},
		{name: "300 characters", branch: long, want: "buildcache-branch-" + long[:92] + "..*"},
		{name: "110 characters fit", branch: long[:110], want: "buildcache-branch-" + long[:110]},
		{name: "111 characters do not", branch: long[:111], want: "buildcache-branch-" + long[:92] + "..*"},
		{name: "two dots", branch: "..", want: "buildcache-branch-..*"},
		{name: "two dots inside", branch: "a..b", want: "buildcache-branch-a..b..*"},
		{name: "leading dash", branch: "-x", want: "buildcache-branch--x"},
		{name: "leading dot", branch: ".x", want: "buildcache-branch-.x"},
		{name: "space and tab", branch: "my branch\tname", want: "buildcache-branch-my-branch-name..*"},
		{name: "empty", branch: "", want: "buildcache-branch-..*"},
		{name: "refs path", branch: "refs/heads/main", want: "buildcache-branch-refs-heads-main..*"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := BranchCacheTag(tt.branch)
		if !ecrTag.MatchString(got) {
			t.Errorf("BranchCacheTag(%q) = %q (%d characters): not a valid ECR tag", tt.branch, got, len(got))
		}
		if prefix, ok := strings.CutSuffix(tt.want, "*"); ok {
			if !strings.HasPrefix(got, prefix) || len(got) != len(prefix)+16 {
				t.Errorf("%s: BranchCacheTag(%q) = %q, want %q and 16 hex characters", tt.name, tt.branch, got, prefix)
			}
		} else if got != tt.want {
			t.Errorf("%s: BranchCacheTag(%q) = %q, want %q", tt.name, tt.branch, got, tt.want)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("BranchCacheTag(%q) = BranchCacheTag(%q) = %q", tt.branch, other, got)
		}
		seen[got] = tt.branch
	}
}

// TestBranchCacheTagCollisions proves that branches which sanitize to the
// same text, or whose name looks like another's sanitized tag, get
// different tags.
func TestBranchCacheTagCollisions(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("b", 200)
	hashed := strings.TrimPrefix(BranchCacheTag("feature/a"), BranchTagPrefix)
	tests := []struct {
		name     string
		branches []string
	}{
		{name: "slash and dash", branches: []string{"feature/a", "feature-a", "feature_a", "feature a", "feature//a"}},
		{name: "a valid name spelling another's tag", branches: []string{"feature/a", hashed}},
		{name: "long names with a common start", branches: []string{long + "1", long + "2", long}},
		{name: "case", branches: []string{"Main", "main", "MAIN"}},
		{name: "unicode letters", branches: []string{"é", "è", "-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seen := map[string]string{}
			for _, b := range tt.branches {
				got := BranchCacheTag(b)
				if other, ok := seen[got]; ok {
					t.Errorf("BranchCacheTag(%q) = BranchCacheTag(%q) = %q", b, other, got)
				}
				seen[got] = b
			}
		})
	}
}

// TestReservedTagPrefix: every tag ms-build makes for itself is reserved, so
// no requested tag can be one, and ordinary tags are not.
func TestReservedTagPrefix(t *testing.T) {
	t.Parallel()
	own := []string{
		CacheTag(Key{}), BranchCacheTag("main"), BranchCacheTag("feature/ä"), RuntimeCacheTag("main"),
		SkipTag("0123456789abcdef0123456789abcdef0123"), StagingTagPrefix + "0123456789abcdef",
		CacheTagPrefix, BranchTagPrefix, RuntimeTagPrefix, SkipTagPrefix, StagingTagPrefix,
	}
	for _, tag := range own {
		if p, ok := ReservedTagPrefix(tag); !ok || !strings.HasPrefix(tag, p) {
			t.Errorf("ReservedTagPrefix(%q) = %q, %v; want the prefix it starts with", tag, p, ok)
		}
	}
	for _, tag := range []string{"latest", "v1.2.3", "abc1234", "msb", "buildcache", "my-buildcache-1", "MSB-1"} {
		if p, ok := ReservedTagPrefix(tag); ok {
			t.Errorf("ReservedTagPrefix(%q) = %q, want none", tag, p)
		}
	}
}
