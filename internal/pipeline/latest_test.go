package pipeline_test

import (
	"errors"
	"testing"

	"github.com/org/ms-build-action/internal/pipeline"
)

// release makes an input a pushed release tag's run: its version's tags
// and latest, decided by the release.
func release(version string, tags ...string) func(*pipeline.Input) {
	return func(in *pipeline.Input) {
		in.Commit.Branch = ""
		in.Release = version
		in.Tags = append(tags, "latest")
	}
}

// TestLatestFollowsTheHighestRelease: a release moves latest only when no
// higher release is in the repository. The first release of a new
// repository takes it without a listing; a backport of an older line,
// built or skipped, leaves it on the newest release with a notice, and
// costs the skip one listing; a newer release moves it.
func TestLatestFollowsTheHighestRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	first := e.run(t.Context(), nil, e.input(release("1.4.2", "1.4.2", "1.4", "1")))
	mustSucceed(t, first)
	if got := e.reg.digestOf("latest"); got != first.res.Digest || e.reg.count("Tagged") != 0 {
		t.Fatalf("the first release: latest at %s, Tagged called %d times; want latest on %s and no listing of a new repository", got, e.reg.count("Tagged"), first.res.Digest)
	}

	// A backport of the 1.3 line, built.
	e.write("main.go", "package main\n\nfunc main() { println(\"1.3.5\") }\n")
	backport := e.run(t.Context(), nil, e.input(release("1.3.5", "1.3.5", "1.3")))
	mustSucceed(t, backport)
	if got := e.reg.digestOf("latest"); got != first.res.Digest {
		t.Errorf("the backport 1.3.5 moved latest to %s, want it on 1.4.2's %s", got, first.res.Digest)
	}
	if e.reg.digestOf("1.3.5") != backport.res.Digest || e.reg.digestOf("1.3") != backport.res.Digest {
		t.Errorf("the backport's own tags: 1.3.5 at %s, 1.3 at %s; want %s", e.reg.digestOf("1.3.5"), e.reg.digestOf("1.3"), backport.res.Digest)
	}
	if !backport.log.has(pipeline.Notice, "latest was not moved: release 1.3.5 is not the repository's highest (it holds 1.4.2)") {
		t.Errorf("no notice that latest was withheld; notes %+v", backport.log.notes)
	}
	for _, r := range backport.res.Tags {
		if r == ref("latest") {
			t.Errorf("the result's tags list latest: %q", backport.res.Tags)
		}
	}
	if n := e.reg.count("Tagged"); n != 1 {
		t.Errorf("the backport's build listed the repository %d times, want once (the sweep's listing serves the decision)", n)
	}

	// The same inputs again as 1.3.6: a skip, which lists once to decide.
	before := len(e.reg.calls)
	skip := e.run(t.Context(), nil, e.input(release("1.3.6", "1.3.6")))
	mustSucceed(t, skip)
	if !skip.res.Skipped || e.reg.digestOf("latest") != first.res.Digest || e.reg.digestOf("1.3.6") != backport.res.Digest {
		t.Errorf("the skipped backport: skipped %v, latest at %s, 1.3.6 at %s; want a skip, latest on %s", skip.res.Skipped, e.reg.digestOf("latest"), e.reg.digestOf("1.3.6"), first.res.Digest)
	}
	if n := e.reg.count("Tagged"); n != 2 {
		t.Errorf("the skip listed the repository %d times, want once; calls %q", n-1, e.reg.calls[before:])
	}

	// A newer release takes latest.
	e.write("main.go", "package main\n\nfunc main() { println(\"1.5.0\") }\n")
	newer := e.run(t.Context(), nil, e.input(release("1.5.0", "1.5.0")))
	mustSucceed(t, newer)
	if got := e.reg.digestOf("latest"); got != newer.res.Digest {
		t.Errorf("the newer release 1.5.0: latest at %s, want %s", got, newer.res.Digest)
	}
}

// TestLatestWhenReleasesCannotBeListed: a skip whose listing fails attaches
// the release's tags but not latest, and says so; the run does not fail.
func TestLatestWhenReleasesCannotBeListed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	first := e.run(t.Context(), nil, e.input(release("1.0.0", "1.0.0")))
	mustSucceed(t, first)
	e.write("main.go", "package main\n\nfunc main() { println(2) }\n")
	second := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"main-2", "latest"} }))
	mustSucceed(t, second)
	e.write("main.go", "package main\n")
	e.reg.fail = func(op, _ string) error {
		if op == "Tagged" {
			return errors.New("listing the tags of team/app: AccessDeniedException")
		}
		return nil
	}
	o := e.run(t.Context(), nil, e.input(release("1.1.0", "1.1.0")))
	mustSucceed(t, o)
	if !o.res.Skipped || e.reg.digestOf("1.1.0") != first.res.Digest || e.reg.digestOf("latest") != second.res.Digest {
		t.Errorf("skipped %v, 1.1.0 at %s, latest at %s; want a skip onto %s with latest left on %s", o.res.Skipped, e.reg.digestOf("1.1.0"), e.reg.digestOf("latest"), first.res.Digest, second.res.Digest)
	}
	if !o.log.has(pipeline.Warning, "latest was not moved: listing the repository's releases") {
		t.Errorf("no warning that latest was not moved; notes %+v", o.log.notes)
	}
}

// TestLatestOnABranchNeedsNoListing: latest asked for by a branch run (no
// release) is attached as any tag: a skip makes no listing.
func TestLatestOnABranchNeedsNoListing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mustSucceed(t, e.run(t.Context(), nil, e.input(release("9.0.0", "9.0.0"))))
	o := e.run(t.Context(), nil, e.input(func(in *pipeline.Input) { in.Tags = []string{"main-1", "latest"} }))
	mustSucceed(t, o)
	if !o.res.Skipped || e.reg.count("Tagged") != 0 {
		t.Errorf("skipped %v, Tagged called %d times; want a skip with no listing", o.res.Skipped, e.reg.count("Tagged"))
	}
}
