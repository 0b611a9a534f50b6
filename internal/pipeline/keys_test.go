package pipeline_test

import (
	"strings"
	"testing"

	"github.com/org/ms-build-action/internal/pipeline"
)

// Tests of what moves the skip key and the dependency key, and what does not.

func withTags(tags ...string) func(*pipeline.Input) {
	return func(in *pipeline.Input) { in.Tags = tags }
}

func atCommit(sha string) func(*pipeline.Input) {
	return func(in *pipeline.Input) { in.Commit.SHA = sha }
}

const (
	commitA = "1111111111111111111111111111111111111111"
	commitB = "2222222222222222222222222222222222222222"
)

// TestLaterCommitSkips proves that a commit whose build inputs equal an
// earlier one's skips: its tag goes on the image the earlier commit built,
// which keeps naming that commit, and the result says so.
func TestLaterCommitSkips(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	first := e.run(t.Context(), nil, e.input(atCommit(commitA), withTags("a")))
	mustSucceed(t, first)
	if first.res.BuiltFrom != "" {
		t.Errorf("a build reports built-from %q; it is for skips", first.res.BuiltFrom)
	}
	second := e.run(t.Context(), nil, e.input(atCommit(commitB), withTags("b")))
	mustSucceed(t, second)
	if !second.res.Skipped || second.res.Digest != first.res.Digest {
		t.Fatalf("a later commit with the same inputs: skipped %v, digest %s; want skipped with %s", second.res.Skipped, second.res.Digest, first.res.Digest)
	}
	if got := second.res.BuiltFrom; got != commitA {
		t.Errorf("built-from %q, want the commit that built the image, %s", got, commitA)
	}
	if e.reg.digestOf("b") != first.res.Digest {
		t.Errorf("tag b at %s, want %s", e.reg.digestOf("b"), first.res.Digest)
	}
	if len(second.b.builds) != 0 || len(second.b.pushes) != 0 {
		t.Errorf("a skip built %d targets and pushed %q", len(second.b.builds), second.b.pushes)
	}
}

// TestWhatMovesTheSkipKey proves that each input that decides the image
// makes a fresh runner build again instead of skipping.
func TestWhatMovesTheSkipKey(t *testing.T) {
	t.Parallel()
	const fromImage = `FROM golang:1 AS build
COPY go.mod go.sum ./
RUN go mod download
COPY --from=tools:1 /bin/lint /bin/lint
RUN go build -o /out/app .

FROM busybox:1 AS runtime
COPY --from=build /out/app /app
`
	tools := func(b *fakeBuilder) { b.bases["tools:1"] = sum("tools") }
	tests := []struct {
		name       string
		dockerfile string
		builder    func(*fakeBuilder) // applied to every run's builder
		change     func(*pipeline.Input, *fakeBuilder)
		skips      bool
	}{
		{name: "nothing", skips: true},
		{name: "commit and source URL", change: func(in *pipeline.Input, _ *fakeBuilder) {
			in.Commit.SHA, in.Commit.SourceURL = commitB, "https://github.com/acme/fork"
		}, skips: true},
		{name: "network", change: func(in *pipeline.Input, _ *fakeBuilder) { in.Network = "host" }},
		{name: "image in COPY --from moved", dockerfile: fromImage, builder: tools, change: func(_ *pipeline.Input, b *fakeBuilder) {
			b.bases["tools:1"] = sum("tools, a newer one")
		}},
		{name: "image in COPY --from unchanged", dockerfile: fromImage, builder: tools, skips: true},
		{name: "frontend moved", dockerfile: "# syntax=docker/dockerfile:1\n" + twoStage, builder: func(b *fakeBuilder) {
			b.published["docker/dockerfile:1"] = sum("frontend 1.10")
		}, change: func(_ *pipeline.Input, b *fakeBuilder) { b.published["docker/dockerfile:1"] = sum("frontend 1.11") }},
		{name: "frontend unchanged", dockerfile: "# syntax=docker/dockerfile:1\n" + twoStage, builder: func(b *fakeBuilder) {
			b.published["docker/dockerfile:1"] = sum("frontend 1.10")
		}, skips: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			if tt.dockerfile != "" {
				e.write("Dockerfile", tt.dockerfile)
			}
			builder := func() *fakeBuilder {
				b := newBuilder(e.reg)
				if tt.builder != nil {
					tt.builder(b)
				}
				return b
			}
			mustSucceed(t, e.run(t.Context(), builder(), e.input(withTags("first"))))
			b, in := builder(), e.input(withTags("second"))
			if tt.change != nil {
				tt.change(&in, b)
			}
			o := e.run(t.Context(), b, in)
			mustSucceed(t, o)
			if o.res.Skipped != tt.skips {
				t.Errorf("skipped = %v, want %v; log:\n%s", o.res.Skipped, tt.skips, o.log.text())
			}
		})
	}
}

// TestUnresolvedImageTurnsSkipOff proves an image in COPY --from that
// cannot be resolved turns the skip check off, as a FROM base does.
func TestUnresolvedImageTurnsSkipOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.write("Dockerfile", strings.Replace(twoStage, "COPY --from=build /out/app /app", "COPY --from=build /out/app /app\nCOPY --from=ghcr.io/acme/missing:1 /x /x", 1))
	o := e.run(t.Context(), nil, e.input())
	mustSucceed(t, o)
	if !o.log.has(pipeline.Notice, "ghcr.io/acme/missing:1") {
		t.Errorf("no notice naming the image; log:\n%s", o.log.text())
	}
	again := e.run(t.Context(), nil, e.input())
	mustSucceed(t, again)
	if again.res.Skipped {
		t.Error("skipped although an image the build reads could not be resolved")
	}
}

// TestAddURLWithoutChecksumTurnsSkipOff proves an ADD of a URL skips only
// when --checksum pins what it fetches.
func TestAddURLWithoutChecksumTurnsSkipOff(t *testing.T) {
	t.Parallel()
	const checksum = "sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"
	for _, tt := range []struct {
		name, flag string
		skips      bool
	}{{"without checksum", "", false}, {"with checksum", "--checksum=" + checksum + " ", true}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.write("Dockerfile", strings.Replace(twoStage, "RUN go mod download", "RUN go mod download\nADD "+tt.flag+"https://example.com/tool.tgz /tool.tgz", 1))
			first := e.run(t.Context(), nil, e.input())
			mustSucceed(t, first)
			again := e.run(t.Context(), nil, e.input(withTags("again")))
			mustSucceed(t, again)
			if again.res.Skipped != tt.skips {
				t.Errorf("skipped = %v, want %v", again.res.Skipped, tt.skips)
			}
			noted := again.log.has(pipeline.Notice, "ADD https://example.com/tool.tgz fetches whatever it serves")
			if noted == tt.skips {
				t.Errorf("notice of the unpinned ADD = %v, want %v; log:\n%s", noted, !tt.skips, again.log.text())
			}
		})
	}
}

// TestTwoServicesKeepTheirKeys proves that in a context with two services,
// a dependency change in one leaves the other's cache key, and its cache
// hit on a fresh runner.
func TestTwoServicesKeepTheirKeys(t *testing.T) {
	t.Parallel()
	service := func(name string) string {
		return `FROM golang:1 AS build
WORKDIR /src
COPY ` + name + `/go.mod ` + name + `/go.sum ./
RUN go mod download
COPY ` + name + ` .
RUN go build -o /out/app .

FROM busybox:1 AS runtime
COPY --from=build /out/app /app
`
	}
	e := newEnv(t, map[string]string{
		"a/Dockerfile": service("a"), "a/go.mod": "module a\n", "a/go.sum": "dep v1 h1:a=\n", "a/main.go": "package main\n",
		"b/Dockerfile": service("b"), "b/go.mod": "module b\n", "b/go.sum": "dep v1 h1:b=\n", "b/main.go": "package main\n",
	})
	a := func(in *pipeline.Input) { in.File = e.dir + "/a/Dockerfile"; in.Tags = []string{"a"} }
	first := e.run(t.Context(), nil, e.input(a))
	mustSucceed(t, first)
	if !strings.Contains(first.log.text(), "2 dependency files the build stage's restore sees (a/go.mod, a/go.sum)") {
		t.Errorf("the key's files are not named; log:\n%s", first.log.text())
	}
	e.write("b/go.sum", "dep v2 h1:b2=\n")
	second := e.run(t.Context(), nil, e.input(a))
	mustSucceed(t, second)
	if second.res.CacheKey != first.res.CacheKey || !second.res.CacheHit {
		t.Errorf("after a change to service b: service a's key %s (was %s), cache-hit %v; want the same key and a hit", second.res.CacheKey, first.res.CacheKey, second.res.CacheHit)
	}
	e.write("a/go.sum", "dep v2 h1:a2=\n")
	third := e.run(t.Context(), nil, e.input(a))
	mustSucceed(t, third)
	if third.res.CacheKey == first.res.CacheKey {
		t.Error("a change to service a's go.sum left its key")
	}
}

// TestGitInContextIsNoted proves a .git in the context is named, with its
// size, and counted as its commit.
func TestGitInContextIsNoted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.write(".git/HEAD", "ref: refs/heads/main\n")
	e.write(".git/refs/heads/main", commitA+"\n")
	e.write(".git/index", "stat data of this clone")
	first := e.run(t.Context(), nil, e.input())
	mustSucceed(t, first)
	if !first.log.has(pipeline.Notice, "the build context holds .git (") || !first.log.has(pipeline.Notice, "Add .git to .dockerignore") {
		t.Errorf("no notice of .git; log:\n%s", first.log.text())
	}
	// Another clone of the commit: other index bytes, the same commit.
	e.write(".git/index", "stat data of another clone, longer")
	e.write(".git/logs/HEAD", "clone: from https://github.com/acme/app\n")
	again := e.run(t.Context(), nil, e.input(withTags("again")))
	mustSucceed(t, again)
	if !again.res.Skipped {
		t.Error("another clone of the same commit did not skip")
	}
}
