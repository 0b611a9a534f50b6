package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGitLabReleaseJob runs the component project's own .gitlab-ci.yml
// under gitlab-ci-local for catalog tags: a semver tag without "v" runs
// only create-release (gitlab-ci-local ignores its release: keyword; GitLab
// adds the release to the script), which publishes only when the image the
// version runs (<image>:v<version>, from the GitHub release) exists, asked
// of a registry as GitHub's is (an anonymous pull token, then the
// manifest). A v-tag runs nothing.
func TestGitLabReleaseJob(t *testing.T) {
	t.Parallel()
	glci := tool(t, "gitlab-ci-local", "MSB_REQUIRE_GITLAB_CI_LOCAL")
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token" && r.URL.Query().Get("scope") == "repository:org/ms-build-action:pull":
			w.Write([]byte(`{"token":"anon-pull"}`))
		case r.Header.Get("Authorization") != "Bearer anon-pull":
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		case r.URL.Path == "/v2/org/ms-build-action/manifests/v1.2.3":
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`))
		default:
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
		}
	}))
	defer reg.Close()
	pipeline, err := os.ReadFile("../.gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := project(t, map[string]string{".gitlab-ci.yml": string(pipeline)})
	host := strings.TrimPrefix(reg.URL, "http://")
	run := func(tag string, args ...string) (string, error) {
		args = append([]string{"--force-shell-executor", "--no-color", "--variable", "CI_COMMIT_TAG=" + tag,
			"--variable", "MSB_RELEASE_IMAGE=" + host + "/org/ms-build-action", "--variable", "MSB_RELEASE_TOKEN_URL=" + reg.URL + "/token",
			"--variable", "MSB_RELEASE_SCHEME=http"}, args...)
		cmd := exec.Command(glci, args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		t.Logf("gitlab-ci-local %s:\n%s", tag, out)
		return string(out), err
	}

	out, err := run("1.2.3", "--list")
	if err != nil || !strings.Contains(out, "create-release") || strings.Contains(out, "\nunit ") || strings.Contains(out, "\nms-build ") {
		t.Errorf("the jobs of tag 1.2.3: %v, want create-release alone", err)
	}
	out, err = run("v1.2.3", "--list")
	if err != nil || strings.Contains(out, "create-release") {
		t.Errorf("tag v1.2.3 runs create-release (%v): the catalog takes semver without v", err)
	}
	if out, err := run("1.2.3", "create-release"); err != nil || !strings.Contains(out, "Releasing 1.2.3 to the CI/CD catalog: its job runs "+host+"/org/ms-build-action:v1.2.3") {
		t.Errorf("create-release for an image that exists: %v", err)
	}
	if out, err := run("1.2.4", "create-release"); err == nil || !strings.Contains(out, "the registry has no image "+host+"/org/ms-build-action:v1.2.4") {
		t.Errorf("create-release for an image that does not exist: %v, want a failure naming it", err)
	}
}
