package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/org/ms-build-action/internal/action"
	"github.com/org/ms-build-action/internal/testenv"
)

// snippet is a fence of the README marked as runnable: the line before it is
// <!-- runnable: KIND -->.
type snippet struct {
	kind string
	line int // the fence's first line, 1-based
	text string
}

// snippetKinds are the kinds a marker may name, and how each is run.
var snippetKinds = []string{"shell", "github", "gitlab"}

var (
	markerLine = regexp.MustCompile(`^<!--\s*runnable:\s*(\S*)\s*-->\s*$`)
	anyMarker  = regexp.MustCompile(`^\s*<!--.*runnable`)
)

// readmeSnippets returns the marked snippets of a README, or an error for a
// marker that names an unknown kind, is malformed, or has no fence after it:
// a marker that rots fails the test rather than silently running nothing.
func readmeSnippets(readme string) ([]snippet, error) {
	lines := strings.Split(readme, "\n")
	var out []snippet
	for i := 0; i < len(lines); i++ {
		if !anyMarker.MatchString(lines[i]) {
			continue
		}
		m := markerLine.FindStringSubmatch(lines[i])
		if m == nil {
			return nil, fmt.Errorf("README line %d: malformed marker %q: write <!-- runnable: KIND -->", i+1, lines[i])
		}
		if !slices.Contains(snippetKinds, m[1]) {
			return nil, fmt.Errorf("README line %d: unknown snippet kind %q: use one of %v", i+1, m[1], snippetKinds)
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			return nil, fmt.Errorf("README line %d: the marker is not followed by a fence on the next line", i+1)
		}
		end := -1
		for j := i + 2; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == "```" {
				end = j
				break
			}
		}
		if end < 0 {
			return nil, fmt.Errorf("README line %d: the fence is not closed", i+2)
		}
		out = append(out, snippet{kind: m[1], line: i + 2, text: strings.Join(lines[i+2:end], "\n") + "\n"})
		i = end
	}
	return out, nil
}

// TestReadmeMarkers checks the markers without running anything: every
// marker parses, and the README has a snippet of every kind. Bad markers in
// a made-up README are refused.
func TestReadmeMarkers(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	snips, err := readmeSnippets(string(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range snippetKinds {
		n := 0
		for _, s := range snips {
			if s.kind == kind {
				n++
			}
		}
		if n == 0 {
			t.Errorf("the README has no runnable %s snippet", kind)
		}
	}
	for name, bad := range map[string]string{
		"unknown kind":   "<!-- runnable: powershell -->\n```ps\nls\n```\n",
		"no fence":       "<!-- runnable: shell -->\n\n```sh\nls\n```\n",
		"text after it":  "<!-- runnable: shell -->\nsee below\n",
		"last line":      "<!-- runnable: shell -->",
		"not closed":     "<!-- runnable: shell -->\n```sh\nls\n",
		"malformed":      "<!-- runnable shell -->\n```sh\nls\n```\n",
		"empty kind":     "<!-- runnable: -->\n```sh\nls\n```\n",
		"kind with case": "<!-- runnable: Shell -->\n```sh\nls\n```\n",
	} {
		if _, err := readmeSnippets(bad); err == nil {
			t.Errorf("%s: a bad marker was accepted: %q", name, bad)
		}
	}
	good := "text\n<!-- runnable: shell -->\n```sh\necho a\necho b\n```\n"
	if s, err := readmeSnippets(good); err != nil || len(s) != 1 || s[0].text != "echo a\necho b\n" || s[0].line != 3 {
		t.Errorf("a good marker: %+v, %v", s, err)
	}
}

// TestReadmeSnippets runs each marked snippet of the README as written, each
// on a fresh copy of the work tree: shell snippets with bash and the test's
// engine, the workflow under act, the pipeline under gitlab-ci-local, both
// offline against the ECR-compatible endpoint. What the test gives them is
// what a user has instead (AWS keys, the engine) and what reaches the
// network otherwise (the ECR endpoint, the action's and the component's
// repositories); the README's Development section lists it.
func TestReadmeSnippets(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	snips, err := readmeSnippets(string(b))
	if err != nil {
		t.Fatal(err)
	}
	docker := testenv.Docker(t)
	host := docker.DaemonHost()
	// The README's setup: the engine and the example's base images.
	up := exec.Command("scripts/engine", "up")
	up.Dir = readmeClone(t, nil)
	up.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "DOCKER_HOST=" + host}
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("scripts/engine up: %v\n%s", err, out)
	}
	for _, s := range snips {
		t.Run(fmt.Sprintf("%s_line_%d", s.kind, s.line), func(t *testing.T) {
			e := testenv.StartECR(t, testenv.GGCR)
			switch s.kind {
			case "shell":
				readmeShell(t, s, host, e)
			case "github":
				readmeGitHub(t, s, e)
			case "gitlab":
				readmeGitLab(t, s, host, e)
			}
		})
	}
}

// readmeClone is the work tree as a user's clone holds it, with files
// added, whose origin is the project on gitlab.com.
func readmeClone(t *testing.T, files map[string]string) string {
	t.Helper()
	return actionRepo(t, func(string) bool { return false }, files, "clone")
}

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// readmeShell runs a shell snippet with bash -e in a fresh clone, with the
// test's engine and, for a snippet that pushes to ECR, AWS credentials in the
// environment pointing at the endpoint.
func readmeShell(t *testing.T, s snippet, host string, e *testenv.ECR) {
	script := filepath.Join(t.TempDir(), "snippet.sh")
	if err := os.WriteFile(script, []byte(s.text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-e", "-o", "pipefail", script)
	cmd.Dir = readmeClone(t, nil)
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "DOCKER_HOST=" + host}, goEnv(t)...), e.Env()...)
	out, err := cmd.CombinedOutput()
	t.Logf("bash:\n%s", out)
	if err != nil {
		t.Fatalf("the shell snippet at README line %d failed: %v", s.line, err)
	}
}

// readmeGitHub runs the workflow under act: the action maps to the clone,
// its release has no binary here (so the action builds from source), and the
// AWS keys are the secrets the workflow reads.
func readmeGitHub(t *testing.T, s snippet, e *testenv.ECR) {
	act := tool(t, "act", "MSB_REQUIRE_ACT")
	path := ".github/workflows/readme.yml"
	if first, _, _ := strings.Cut(s.text, "\n"); strings.HasPrefix(first, "# .github/workflows/") {
		path = strings.TrimPrefix(first, "# ")
	}
	dir := readmeClone(t, map[string]string{path: s.text})
	noRelease := httptest.NewServer(http.NotFoundHandler())
	defer noRelease.Close()
	env := []string{"AWS_ENDPOINT_URL_ECR=" + e.Endpoint, "AWS_EC2_METADATA_DISABLED=true", "MSB_RELEASE_URL=" + noRelease.URL}
	events, code := runActWith(t, act, dir, "push", path, env,
		"--local-repository", "org/ms-build-action@v1="+dir,
		"--secret", "AWS_ACCESS_KEY_ID="+e.AccessKeyID, "--secret", "AWS_SECRET_ACCESS_KEY="+e.SecretAccessKey)
	if code != 0 || jobResult(events) != "success" {
		t.Fatalf("the workflow at README line %d: act exit code %d, job result %q; want 0 and success", s.line, code, jobResult(events))
	}
	digest := readmeImage(t, e)
	if !logged(events, "pushed "+e.Registry+"/team/app@"+digest) {
		t.Errorf("the workflow's last step did not print the pushed image %s/team/app@%s", e.Registry, digest)
	}
}

// readmeGitLab runs the pipeline under gitlab-ci-local. The clone stands in
// for the component's project on gitlab.com (a git insteadOf, and a 1.0.0
// release tag so that @1 resolves); the engine comes as a pipeline variable,
// which overrides the docker-host input as it does on GitLab.
func readmeGitLab(t *testing.T, s snippet, host string, e *testenv.ECR) {
	glci := tool(t, "gitlab-ci-local", "MSB_REQUIRE_GITLAB_CI_LOCAL")
	dir := readmeClone(t, map[string]string{".gitlab-ci.yml": s.text})
	gitIn(t, dir, "tag", "1.0.0")
	home := t.TempDir()
	write(t, home, ".gitconfig", "[url \"file://"+dir+"\"]\n\tinsteadOf = https://gitlab.com:443/org/ms-build-action.git\n")
	args := []string{"--force-shell-executor", "--no-color"}
	for _, kv := range []string{"AWS_ACCESS_KEY_ID=" + e.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + e.SecretAccessKey,
		"AWS_ENDPOINT_URL_ECR=" + e.Endpoint, "AWS_EC2_METADATA_DISABLED=true", "DOCKER_HOST=" + host} {
		args = append(args, "--variable", kv)
	}
	cmd := exec.Command(glci, args...)
	cmd.Dir = dir
	// The job runs ms-build from PATH, as the component's image has it.
	cmd.Env = []string{"PATH=" + filepath.Dir(binary) + ":" + os.Getenv("PATH"), "HOME=" + home}
	out, err := cmd.CombinedOutput()
	t.Logf("gitlab-ci-local:\n%s", out)
	if err != nil {
		t.Fatalf("the pipeline at README line %d: gitlab-ci-local: %v", s.line, err)
	}
	digest := readmeImage(t, e)
	if want := "deploying " + e.Registry + "/team/app@" + digest; !strings.Contains(string(out), want) {
		t.Errorf("the deploy job did not print %q", want)
	}
}

// readmeImage returns the digest of the image the snippets push to team/app:
// the one with a tag that is not a cache's or a record's.
func readmeImage(t *testing.T, e *testenv.ECR) string {
	t.Helper()
	d, err := e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("team/app"),
		Filter: &types.DescribeImagesFilter{TagStatus: types.TagStatusTagged}})
	if err != nil {
		t.Fatalf("the registry has no repository team/app: %v", err)
	}
	for _, img := range d.ImageDetails {
		for _, tag := range img.ImageTags {
			if !strings.HasPrefix(tag, "buildcache-") && !strings.HasPrefix(tag, "msb-") {
				return aws.ToString(img.ImageDigest)
			}
		}
	}
	t.Fatalf("team/app has no image with a requested tag: %+v", d.ImageDetails)
	return ""
}

// TestReadmeTables checks that the README's Inputs and Outputs tables name
// every input and output, and nothing else.
func TestReadmeTables(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for _, s := range action.Specs {
		inputs = append(inputs, s.Name)
	}
	for _, c := range []struct {
		heading string
		want    []string
	}{{"### Inputs", inputs}, {"### Outputs", action.OutputNames}} {
		got := tableNames(string(b), c.heading)
		if !slices.Equal(sorted(got), sorted(c.want)) {
			t.Errorf("the README's %q table names %v; want %v", c.heading, got, c.want)
		}
	}
}

// tableNames returns the first column's names (`name`) of the table under
// heading, up to the next heading.
func tableNames(readme, heading string) []string {
	_, after, ok := strings.Cut(readme, "\n"+heading+"\n")
	if !ok {
		return nil
	}
	var names []string
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "#") {
			break
		}
		cell, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " |")
		if strings.HasPrefix(line, "| `") {
			for _, n := range strings.Split(cell, ", ") {
				names = append(names, strings.Trim(n, "`"))
			}
		}
	}
	return names
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
