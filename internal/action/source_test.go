package action

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFromEnv: the inputs are read from the names action.yml and the GitLab
// component set (INPUT_CACHE_KEY_FILES); the hyphenated form that act sets
// beside them, or that an earlier step writes to GITHUB_ENV, never replaces
// them.
func TestFromEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    map[string]string
		wantErr string
	}{
		{
			name: "action.yml's names",
			env:  map[string]string{"GITHUB_ACTIONS": "true", "INPUT_CACHE_KEY_FILES": "go.sum", "INPUT_REPOSITORY": "team/app"},
			want: map[string]string{"cache-key-files": "go.sum", "repository": "team/app"},
		},
		{
			name: "act sets both forms, the same",
			env:  map[string]string{"GITHUB_ACTIONS": "true", "INPUT_CACHE_KEY_FILES": "go.sum", "INPUT_CACHE-KEY-FILES": "go.sum"},
			want: map[string]string{"cache-key-files": "go.sum"},
		},
		{
			name:    "an earlier step wrote a second form to GITHUB_ENV",
			env:     map[string]string{"GITHUB_ACTIONS": "true", "INPUT_BUILD_ARGS": "A=1", "INPUT_BUILD-ARGS": "A=2"},
			wantErr: "input build-args: INPUT_BUILD-ARGS is set and differs from INPUT_BUILD_ARGS, which action.yml sets: an earlier step may have written it to GITHUB_ENV; remove it from the job's environment",
		},
		{
			name:    "on GitHub the second form alone is not read either",
			env:     map[string]string{"GITHUB_ACTIONS": "true", "INPUT_BUILD-ARGS": "A=2"},
			wantErr: "input build-args: INPUT_BUILD-ARGS is set and differs from INPUT_BUILD_ARGS",
		},
		{
			name: "a laptop may use the second form alone",
			env:  map[string]string{"INPUT_BUILD-ARGS": "A=2"},
			want: map[string]string{"build-args": "A=2"},
		},
		{
			name:    "a laptop with two different values",
			env:     map[string]string{"INPUT_BUILD_ARGS": "A=1", "INPUT_BUILD-ARGS": "A=2"},
			wantErr: "input build-args: INPUT_BUILD-ARGS and INPUT_BUILD_ARGS are both set, to different values: set only INPUT_BUILD_ARGS",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error = %v, want one line starting %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "A=1") || strings.Contains(err.Error(), "A=2") {
					t.Errorf("the error holds a value, which may be a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("inputs (-want +got):\n%s", diff)
			}
		})
	}
}
