package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/ms-build-action/internal/testenv"
)

// secretsDockerfile is the two-stage fixture with a build-stage step that
// fails unless each secret's content has the expected hash; marker makes
// the step a new one (not cached by the engine) for each run that must
// prove the values reach it.
func secretsDockerfile(marker string, values map[string]string) string {
	var checks []string
	for _, id := range []string{"npm", "pip", "cfg"} {
		sum := sha256.Sum256([]byte(values[id]))
		checks = append(checks, fmt.Sprintf(`test "$(sha256sum < /run/secrets/%s | cut -d" " -f1)" = "%s"`, id, hex.EncodeToString(sum[:])))
	}
	return `FROM msb-test/sdk:1 AS build
WORKDIR /src
COPY requirements.txt ./
RUN restore requirements.txt
RUN --mount=type=secret,id=npm,required=true --mount=type=secret,id=pip,required=true --mount=type=secret,id=cfg,required=true sh -c '` +
		strings.Join(checks, " && ") + ` && echo ` + marker + ` > /src/secrets-checked'
COPY . .
RUN compile /out

FROM msb-test/busybox:1
COPY --from=build /out/ /app/
ENTRYPOINT ["/app/app"]
`
}

// secretValues are fresh values for the three secrets: npm (secrets), pip
// (secret-envs) and cfg (secret-files, two lines).
func secretValues() map[string]string {
	return map[string]string{
		"npm": "npm-" + rand.Text(),
		"pip": "pip-" + rand.Text(),
		"cfg": "//registry.example/:_authToken=cfg-" + rand.Text() + "\nalways-auth=true\n",
	}
}

// secretParts are the strings a leak would show: each value, and each line
// of the file's.
func secretParts(values map[string]string) []string {
	parts := []string{values["npm"], values["pip"]}
	for line := range strings.Lines(values["cfg"]) {
		if line = strings.TrimSpace(line); line != "always-auth=true" && line != "" {
			parts = append(parts, line)
		}
	}
	return parts
}

// secretInputs gives the values through each of the three inputs; the file
// lives outside the build context.
func secretInputs(t *testing.T, values map[string]string) (inputs map[string]string, env []string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "npmrc")
	if err := os.WriteFile(file, []byte(values["cfg"]), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"secrets":      "npm=" + values["npm"],
		"secret-envs":  "pip=PIP_TOKEN",
		"secret-files": "cfg=" + file,
	}, []string{"PIP_TOKEN=" + values["pip"]}
}

// TestBuildSecrets: secrets given by value, by environment variable and by
// file reach RUN --mount=type=secret (the step checks their hashes: the
// build succeeds only if it saw them), and then no value is found in any
// blob of the pushed image or of the build-stage cache in the registry, nor
// in stdout, stderr, the outputs, the summary, or a GitLab run's log and
// dotenv file. Rotated values do not force a rebuild: the run is skipped.
func TestBuildSecrets(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.GGCR)
	values := secretValues()
	dir := workspace(t, "twostage")
	write(t, dir, "Dockerfile", secretsDockerfile("github-"+strings.ToLower(rand.Text()), values))

	inputs, env := secretInputs(t, values)
	inputs["repository"], inputs["network"] = "acme/app", "none"
	r := github(t, dir, e, inputs, env...)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0: the step did not see the secrets' values", r.code)
	}
	if r.outputs["skipped"] != "false" {
		t.Errorf("skipped = %q on the first run", r.outputs["skipped"])
	}
	parts := secretParts(values)
	assertNoSecret(t, r, parts...)
	for _, p := range parts {
		if !strings.Contains(r.stdout, "::add-mask::"+p) {
			t.Errorf("a secret (or a line of the secret file) was not masked for the runner")
		}
	}
	if !strings.Contains(r.logs(), "RUN --mount=type=secret,id=npm") {
		t.Error("the log does not show the secret step")
	}

	// Every blob the registry holds for the repository: the released image,
	// the build-stage and runtime caches, the skip record.
	auth := login(t, e)
	blobs := repositoryBlobs(t, e.Registry+"/acme/app", auth)
	var cacheTags int
	for place := range blobs {
		if strings.HasPrefix(place, "buildcache-") {
			cacheTags++
		}
	}
	if cacheTags == 0 {
		t.Fatalf("no build-stage cache in the registry to search: %d places", len(blobs))
	}
	checked := false
	for place, b := range blobs {
		for _, p := range parts {
			if bytes.Contains(b, []byte(p)) {
				t.Errorf("a secret's value is in %s", place)
			}
		}
		checked = checked || bytes.Contains(b, []byte("secrets-checked"))
	}
	if !checked {
		t.Error("no blob holds the secret step's layer or history: the search did not reach the build stage")
	}

	// Rotated values, the same inputs otherwise: skipped, on the same key.
	rotated := map[string]string{"npm": "npm-" + rand.Text(), "pip": "pip-" + rand.Text(), "cfg": "cfg-" + rand.Text() + "\n"}
	inputs2, env2 := secretInputs(t, rotated)
	inputs2["repository"], inputs2["network"], inputs2["tags"] = "acme/app", "none", "rotated"
	r2 := github(t, dir, e, inputs2, env2...)
	if r2.code != 0 {
		t.Fatalf("exit code %d after rotating the secrets", r2.code)
	}
	if r2.outputs["skipped"] != "true" || r2.outputs["digest"] != r.outputs["digest"] || r2.outputs["cache-key"] != r.outputs["cache-key"] {
		t.Errorf("rotated secrets: skipped %q, digest %s, cache-key %s; want skipped with %s and %s",
			r2.outputs["skipped"], r2.outputs["digest"], r2.outputs["cache-key"], r.outputs["digest"], r.outputs["cache-key"])
	}
	assertNoSecret(t, r2, append(secretParts(rotated), parts...)...)

	// GitLab: the log is redacted by the run itself and the outputs go to
	// a dotenv file. A repository of its own and a new step: built again.
	glValues := secretValues()
	glDir := workspace(t, "twostage")
	write(t, glDir, "Dockerfile", secretsDockerfile("gitlab-"+strings.ToLower(rand.Text()), glValues))
	glInputs, glEnv := secretInputs(t, glValues)
	glInputs["repository"], glInputs["network"] = "acme/gl", "none"
	gl := gitlab(t, glDir, e, glInputs, glEnv...)
	if gl.code != 0 {
		t.Fatalf("GitLab run: exit code %d, want 0", gl.code)
	}
	if !strings.Contains(gl.dotenv, "MSB_DIGEST=sha256:") {
		t.Errorf("the dotenv file lacks the digest:\n%s", gl.dotenv)
	}
	glParts := secretParts(glValues)
	for _, p := range glParts {
		for place, v := range map[string]string{"stdout": gl.stdout, "stderr": gl.stderr, "dotenv": gl.dotenv} {
			if strings.Contains(v, p) {
				t.Errorf("GitLab run: a secret's value is in %s", place)
			}
		}
	}
	for place, b := range repositoryBlobs(t, e.Registry+"/acme/gl", auth) {
		for _, p := range glParts {
			if bytes.Contains(b, []byte(p)) {
				t.Errorf("GitLab run: a secret's value is in %s", place)
			}
		}
	}
}

// gitlabResult is a GitLab-mode run and its dotenv file.
type gitlabResult struct {
	result
	dotenv string
}

// gitlab runs the binary as the component's job does: GITLAB_CI, the CI_
// variables, the inputs as INPUT_<NAME> and the dotenv report's path.
func gitlab(t *testing.T, dir string, e *testenv.ECR, inputs map[string]string, extra ...string) gitlabResult {
	t.Helper()
	dotenv := filepath.Join(t.TempDir(), "ms-build.env")
	env := []string{
		"GITLAB_CI=true", "CI=true", "CI_JOB_NAME=ms-build",
		"CI_COMMIT_SHA=" + sha, "CI_COMMIT_BRANCH=main", "CI_DEFAULT_BRANCH=main",
		"CI_PROJECT_URL=https://gitlab.com/acme/app", "CI_PROJECT_DIR=" + dir,
		"MSB_DOTENV=" + dotenv,
	}
	env = append(env, e.Env()...)
	for k, v := range inputs {
		env = append(env, inputVar(k)+"="+v)
	}
	r := runBinary(t, dir, append(env, extra...))
	b, err := os.ReadFile(dotenv)
	if err != nil && r.code == 0 {
		t.Errorf("reading the dotenv file: %v", err)
	}
	return gitlabResult{r, string(b)}
}

// repositoryBlobs fetches, for every tag of the repository, the manifest,
// the config and each layer both as stored and decompressed, by place.
func repositoryBlobs(t *testing.T, repo string, auth authn.Authenticator) map[string][]byte {
	t.Helper()
	opts := []remote.Option{remote.WithAuth(auth), remote.WithContext(t.Context())}
	tags, err := remote.List(ref(t, repo+":x").Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, tag := range tags {
		desc, err := remote.Get(ref(t, repo+":"+tag), opts...)
		if err != nil {
			t.Fatalf("fetching %s: %v", tag, err)
		}
		out[tag+" manifest"] = desc.Manifest
		var imgs []v1.Image
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			if err != nil {
				t.Fatal(err)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range im.Manifests {
				img, err := idx.Image(m.Digest)
				if err != nil {
					t.Fatalf("fetching %s's %s: %v", tag, m.Digest, err)
				}
				imgs = append(imgs, img)
			}
		} else if desc.MediaType.IsImage() {
			img, err := desc.Image()
			if err != nil {
				t.Fatal(err)
			}
			imgs = append(imgs, img)
		}
		for i, img := range imgs {
			cfg, err := img.RawConfigFile()
			if err != nil {
				t.Fatalf("fetching %s's config: %v", tag, err)
			}
			out[fmt.Sprintf("%s image %d config", tag, i)] = cfg
			layers, err := img.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for j, l := range layers {
				for kind, open := range map[string]func() (io.ReadCloser, error){"compressed": l.Compressed, "uncompressed": l.Uncompressed} {
					rc, err := open()
					if err != nil {
						t.Fatalf("fetching %s's layer %d: %v", tag, j, err)
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					if err != nil {
						t.Fatalf("reading %s's layer %d: %v", tag, j, err)
					}
					out[fmt.Sprintf("%s image %d layer %d (%s)", tag, i, j, kind)] = b
				}
			}
		}
	}
	return out
}

// TestSSH: ssh: default serves the agent at SSH_AUTH_SOCK (a real
// ssh-agent) and id=path a key file; RUN --mount=type=ssh finds a socket
// for each. Without an agent the run fails before it builds, naming the
// input.
func TestSSH(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	sock, key := testenv.SSHAgent(t)
	dir := workspace(t, "twostage")
	marker := strings.ToLower(rand.Text())
	write(t, dir, "Dockerfile", `FROM msb-test/sdk:1 AS build
WORKDIR /src
RUN --mount=type=ssh,required=true test -S "$SSH_AUTH_SOCK" && echo agent-`+marker+`
RUN --mount=type=ssh,id=deploy,required=true test -S "$SSH_AUTH_SOCK" && echo key-`+marker+`
COPY . .
RUN compile /out

FROM msb-test/busybox:1
COPY --from=build /out/ /app/
`)
	r := github(t, dir, nil, map[string]string{"push": "false", "network": "none", "ssh": "default\ndeploy=" + key}, "SSH_AUTH_SOCK="+sock)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0: a step found no SSH socket", r.code)
	}
	for _, want := range []string{"agent-" + marker, "key-" + marker} {
		if !strings.Contains(r.logs(), want) {
			t.Errorf("no step printed %s", want)
		}
	}

	noAgent := github(t, dir, nil, map[string]string{"push": "false", "network": "none", "ssh": "default"})
	if noAgent.code != 1 || !strings.Contains(noAgent.stdout, "::error::input ssh: default names no path and SSH_AUTH_SOCK is not set") {
		t.Errorf("ssh: default without an agent: exit %d, want 1 and an error naming the input", noAgent.code)
	}
	if strings.Contains(noAgent.logs(), "Building") {
		t.Error("the run built before finding out it had no agent")
	}
}
