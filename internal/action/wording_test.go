package action

import "testing"

// TestFlagWording: the CLI's advice names flags where the action's names
// inputs, and nothing else in a message changes.
func TestFlagWording(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"a boolean set true", "(or set dry-run: true to build without AWS)", "(or set --dry-run to build without AWS)"},
		{"a boolean set false", "required unless dry-run or push: false", "required unless dry-run or --push=false"},
		{"a value", "set network: none (or host)", "set --network=none (or host)"},
		{"a value after try", "or try dry-run: true)", "or try --dry-run)"},
		{"set a name to", "name it (FROM ... AS build) and set build-stage to that name", "name it (FROM ... AS build) and set --build-stage to that name"},
		{"an input error's name stays", "input file: Dockerfile does not exist", "input file: Dockerfile does not exist"},
		{"not an input", "set foo: bar, set DOCKER_HOST to it", "set foo: bar, set DOCKER_HOST to it"},
		{"a statement, not advice", "create-repository is false: create it or set create-repository: true", "create-repository is false: create it or set --create-repository"},
		{"hostile", "set network: none\n::error::x %0A", "set --network=none\n::error::x %0A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := FlagWording(tc.in); got != tc.want {
				t.Errorf("FlagWording(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
