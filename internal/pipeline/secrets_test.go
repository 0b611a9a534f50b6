package pipeline_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/pipeline"
)

// TestSecretRotationKeepsKeys: a build secret reaches every build, and a
// new value of it (a rotated token) is not a new build: the dependency key
// holds and the run is skipped on the same skip record. Neither value is in
// anything the run stored or said.
func TestSecretRotationKeepsKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	withSecret := func(v string) func(*pipeline.Input) {
		return func(in *pipeline.Input) {
			in.Secrets = []build.Secret{{ID: "npm", Value: []byte(v)}, {ID: "npmrc", File: "/run/npmrc"}}
			in.SSH = []build.SSH{{ID: "default", Paths: []string{"/tmp/agent.sock"}}}
		}
	}
	const old, rotated = "token-before-rotation-7f3a", "token-after-rotation-9c1d"

	first := e.run(t.Context(), nil, e.input(withSecret(old)))
	mustSucceed(t, first)
	if first.res.Skipped {
		t.Fatal("the first run was skipped")
	}
	for _, target := range []string{"build", "runtime"} {
		s, ok := first.b.spec(target)
		if !ok {
			t.Fatalf("no %s build", target)
		}
		if diff := cmp.Diff([]build.Secret{{ID: "npm", Value: []byte(old)}, {ID: "npmrc", File: "/run/npmrc"}}, s.Secrets); diff != "" {
			t.Errorf("%s build's secrets (-want +got):\n%s", target, diff)
		}
		if diff := cmp.Diff([]build.SSH{{ID: "default", Paths: []string{"/tmp/agent.sock"}}}, s.SSH); diff != "" {
			t.Errorf("%s build's SSH (-want +got):\n%s", target, diff)
		}
		for k, v := range s.BuildArgs {
			if strings.Contains(k+v, old) {
				t.Errorf("the secret became build argument %s", k)
			}
		}
	}

	second := e.run(t.Context(), nil, e.input(withSecret(rotated), func(in *pipeline.Input) { in.Tags = []string{"v2"} }))
	mustSucceed(t, second)
	if !second.res.Skipped || second.res.Digest != first.res.Digest {
		t.Errorf("a rotated secret: skipped %v, digest %s; want skipped with %s", second.res.Skipped, second.res.Digest, first.res.Digest)
	}
	if second.res.CacheKey != first.res.CacheKey {
		t.Errorf("a rotated secret changed the cache key: %s, was %s", second.res.CacheKey, first.res.CacheKey)
	}
	if n := len(second.b.targets()); n != 0 {
		t.Errorf("a rotated secret built %d targets, want none", n)
	}

	// A source change with yet another value: built, and the build stage
	// comes from the cache of the same dependency key.
	e.write("main.go", "package main\n\nfunc main() {}\n")
	third := e.run(t.Context(), nil, e.input(withSecret(rotated+"-again"), func(in *pipeline.Input) { in.Tags = []string{"v3"} }))
	mustSucceed(t, third)
	if third.res.Skipped || !third.res.CacheHit || third.res.CacheKey != first.res.CacheKey {
		t.Errorf("source change with a rotated secret: skipped %v, cache-hit %v, key %s; want built from the cache of %s", third.res.Skipped, third.res.CacheHit, third.res.CacheKey, first.res.CacheKey)
	}

	e.reg.mu.Lock()
	var stored strings.Builder
	for tag, d := range e.reg.tags {
		stored.WriteString(tag + " " + d + "\n")
	}
	for _, m := range e.reg.manifests {
		stored.Write(m.Body)
	}
	e.reg.mu.Unlock()
	for _, o := range []outcome{first, second, third} {
		for _, s := range []string{old, rotated, rotated + "-again"} {
			if strings.Contains(o.log.text(), s) {
				t.Error("the run said a secret's value")
			}
			if strings.Contains(stored.String(), s) {
				t.Error("a secret's value is in a manifest or tag the run stored (a skip record?)")
			}
			if slices.ContainsFunc(o.res.Tags, func(tag string) bool { return strings.Contains(tag, s) }) || strings.Contains(o.res.CacheKey, s) {
				t.Error("a secret's value is in the run's result")
			}
		}
	}
}
