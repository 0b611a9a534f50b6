package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/ms-build-action/internal/testenv"
)

// gitClone makes a repository of files and returns a fresh clone of it, as
// a CI checkout is: a real .git, files with the clone's mtimes.
func gitClone(t *testing.T, files map[string]string) string {
	t.Helper()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "checkout")
	for name, content := range files {
		write(t, src, name, content)
	}
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git(src, "init", "-q", "-b", "main")
	git(src, "add", "-A")
	git(src, "commit", "-q", "-m", "fixture")
	git(filepath.Dir(dst), "clone", "-q", src, dst)
	return dst
}

// TestPrivateBaseImage builds, on a runner whose engine has never seen it, a
// Dockerfile whose stages are FROM an image that only the ECR registry
// pushed to holds, behind its token (distribution/v3 checks it): the build
// pulls it with the run's own login. The context is a fresh git clone.
func TestPrivateBaseImage(t *testing.T) {
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	e := testenv.StartECR(t, testenv.DistributionV3)
	if _, err := e.Client.CreateRepository(t.Context(), &awsecr.CreateRepositoryInput{RepositoryName: aws.String("base/busybox")}); err != nil {
		t.Fatal(err)
	}
	base := e.Registry + "/base/busybox:1"
	marker := testenv.PushBase(t, base, login(t, e))
	if _, err := docker.ImageInspect(t.Context(), base); err == nil {
		t.Fatalf("the engine already has %s: the test proves nothing", base)
	}
	dir := gitClone(t, map[string]string{
		"Dockerfile": "FROM " + base + " AS build\nRUN cat /marker.txt > /out.txt\n\nFROM " + base + "\nCOPY --from=build /out.txt /copied.txt\n",
		"app.txt":    "hello\n",
	})
	r := github(t, dir, e, map[string]string{"repository": "acme/app", "network": "none", "tags": "v1"})
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0: a private base image in the registry pushed to must build", r.code)
	}
	img, err := remote.Image(ref(t, e.Registry+"/acme/app:v1"), remote.WithAuth(login(t, e)), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := testenv.Run(t, docker, e.Registry+"/acme/app:v1", "cat", "/copied.txt")
	if strings.TrimSpace(out) != marker {
		t.Errorf("/copied.txt = %q, want the private base's marker %q", out, marker)
	}
	if files := imageFiles(t, img); !slices.Contains(files, "marker.txt") {
		t.Errorf("the pushed image lacks the private base's layers: %q", files)
	}
	assertNoSecret(t, r, e.Passwords()...)
}
