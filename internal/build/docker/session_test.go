package docker

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tonistiigi/fsutil"
)

// The frontend's exclude patterns for the context are dropped (Files has
// applied them, keeping the Dockerfile); its narrowing and every other
// directory's patterns are kept.
func TestKeepContextDecision(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dir  string
		want fsutil.FilterOpt
	}{
		{dir: "context", want: fsutil.FilterOpt{IncludePatterns: []string{"src"}, FollowPaths: []string{"l"}}},
		{dir: "dockerfile", want: fsutil.FilterOpt{ExcludePatterns: []string{"Dockerfile"}, IncludePatterns: []string{"src"}, FollowPaths: []string{"l"}}},
	}
	for _, tt := range tests {
		o := fsutil.FilterOpt{ExcludePatterns: []string{"Dockerfile"}, IncludePatterns: []string{"src"}, FollowPaths: []string{"l"}}
		if err := keepContextDecision(tt.dir, &o); err != nil {
			t.Fatalf("keepContextDecision(%s): %v", tt.dir, err)
		}
		if diff := cmp.Diff(tt.want.ExcludePatterns, o.ExcludePatterns); diff != "" {
			t.Errorf("%s: exclude patterns (-want +got):\n%s", tt.dir, diff)
		}
		if diff := cmp.Diff(tt.want.IncludePatterns, o.IncludePatterns); diff != "" {
			t.Errorf("%s: include patterns (-want +got):\n%s", tt.dir, diff)
		}
		if diff := cmp.Diff(tt.want.FollowPaths, o.FollowPaths); diff != "" {
			t.Errorf("%s: follow paths (-want +got):\n%s", tt.dir, diff)
		}
	}
}
