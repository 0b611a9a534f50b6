package e2e

import (
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/org/ms-build-action/internal/testenv"
)

// actTagWorkflow pushes on a tag with metadata-action's semver rules.
const actTagWorkflow = `name: release
on: push
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: msb
        uses: ./
        with:
          repository: acme/release
          context: app
          network: none
          tags: |
            type=semver,pattern={{version}}
            type=semver,pattern={{major}}.{{minor}}
            type=semver,pattern={{major}}
            type=sha
      - name: check the outputs
        env:
          TAGS: ${{ steps.msb.outputs.tags }}
        run: |
          echo "pushed tags: $(echo "$TAGS" | tr '\n' ' ')"
`

// actBackportWorkflow releases a patch of an older line: its own version
// only (the line's floating tags belong to the newest release).
const actBackportWorkflow = `name: backport
on: push
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./
        with:
          repository: acme/release
          context: app
          network: none
          tags: type=semver,pattern={{version}}
`

// TestActTagRelease runs the action with real act on push events of git
// tags, and reads the pushed tags back from the registry: refs/tags/v1.2.3
// gets 1.2.3, 1.2, 1, sha-<7> and latest (the repository's first and so
// highest release); then a backport, refs/tags/v1.1.9 of a changed app,
// gets 1.1.9 on its own image while latest stays on 1.2.3's, with a notice.
func TestActTagRelease(t *testing.T) {
	act := tool(t, "act", "MSB_REQUIRE_ACT")
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	dir := project(t, map[string]string{
		".github/workflows/release.yml":  actTagWorkflow,
		".github/workflows/backport.yml": actBackportWorkflow,
	})
	event := func(tag string) string {
		p := filepath.Join(t.TempDir(), "event.json")
		write(t, filepath.Dir(p), "event.json", `{"ref":"refs/tags/`+tag+`","repository":{"default_branch":"main"}}`)
		return p
	}

	events, code := runActOn(t, act, dir, "push", ".github/workflows/release.yml", e, "-e", event("v1.2.3"))
	if code != 0 || jobResult(events) != "success" {
		t.Fatalf("act on refs/tags/v1.2.3: exit code %d, job result %q; want 0 and success", code, jobResult(events))
	}
	tags := tagsByDigest(t, e, "acme/release")
	release := tags["1.2.3"]
	for _, tag := range []string{"1.2.3", "1.2", "1", "latest"} {
		if tags[tag] != release || release == "" {
			t.Errorf("after v1.2.3: %s at %q, want 1.2.3's image %q", tag, tags[tag], release)
		}
	}
	sha := ""
	for tag, d := range tags {
		if len(tag) == len("sha-1234567") && tag[:4] == "sha-" && d == release {
			sha = tag
		}
	}
	if sha == "" {
		t.Errorf("after v1.2.3: no sha-<7> tag on the image; tags %v", tags)
	}
	if !logged(events, "pushed tags: ") {
		t.Error("the later step did not see the tags output")
	}

	write(t, dir, "app/message.txt", "the 1.1 line's backport\n")
	events, code = runActOn(t, act, dir, "push", ".github/workflows/backport.yml", e, "-e", event("v1.1.9"))
	if code != 0 || jobResult(events) != "success" {
		t.Fatalf("act on refs/tags/v1.1.9: exit code %d, job result %q; want 0 and success", code, jobResult(events))
	}
	tags = tagsByDigest(t, e, "acme/release")
	if tags["1.1.9"] == "" || tags["1.1.9"] == release {
		t.Errorf("after v1.1.9: 1.1.9 at %q, want a new image (1.2.3 is %s)", tags["1.1.9"], release)
	}
	if tags["latest"] != release {
		t.Errorf("after the backport v1.1.9: latest at %q, want it left on 1.2.3's %q", tags["latest"], release)
	}
	if !logged(events, "latest was not moved: release 1.1.9 is not the repository's highest (it holds 1.2.3)") {
		t.Error("the backport's log lacks the notice that latest was not moved")
	}
}

// tagsByDigest reads a repository's tags back from the registry, each with
// the digest it points at.
func tagsByDigest(t *testing.T, e *testenv.ECR, repo string) map[string]string {
	t.Helper()
	out := map[string]string{}
	p := awsecr.NewDescribeImagesPaginator(e.Client, &awsecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("listing %s: %v", repo, err)
		}
		for _, d := range page.ImageDetails {
			for _, tag := range d.ImageTags {
				out[tag] = aws.ToString(d.ImageDigest)
			}
		}
	}
	return out
}
