package docker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/docker"
	"github.com/org/ms-build-action/internal/testenv"
)

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// checkSecret is a RUN step that fails unless the secret id's content has
// the given hash.
func checkSecret(id, value string) string {
	return fmt.Sprintf(`RUN --mount=type=secret,id=%s,required=true sh -c 'test "$(sha256sum < /run/secrets/%s | cut -d" " -f1)" = "%s"'`, id, id, hash(value))
}

// TestIntegrationSecrets: a secret given by value and one read from a file
// reach RUN --mount=type=secret (the step checks their hashes), and neither
// is in the image: not in its config, history or any layer.
func TestIntegrationSecrets(t *testing.T) {
	t.Parallel()
	e, c := engine(t)
	value, fromFile := "v-"+rand.Text(), "f-"+rand.Text()+"\nsecond line\n"
	file := filepath.Join(t.TempDir(), "token")
	must(t, os.WriteFile(file, []byte(fromFile), 0o600))
	bc, _ := openContext(t, `FROM `+testenv.BusyboxImage+`
COPY nonce.txt /nonce.txt
`+checkSecret("npm", value)+`
`+checkSecret("file", fromFile)+`
RUN --mount=type=secret,id=npm cp /run/secrets/npm /copied-by-mistake-no && rm /copied-by-mistake-no && echo secret-steps-done
`)
	tag := "msb-adapter-test/" + strings.ToLower(rand.Text()) + ":secrets"
	t.Cleanup(func() {
		c.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	var p testenv.Steps
	img, err := e.Build(t.Context(), build.Spec{
		Context: bc, Tags: []string{tag}, Network: "none",
		Secrets: []build.Secret{{ID: "npm", Value: []byte(value)}, {ID: "file", File: file}},
	}, &p)
	if err != nil {
		t.Fatalf("Build() = %v: the steps did not see the secrets' values", err)
	}
	if !hasStep(p.Done, "echo secret-steps-done") {
		t.Errorf("the last secret step was not run; done: %v", stepNames(p.Done))
	}
	for _, s := range p.Done {
		if bytes.Contains(s.Log, []byte(value)) || strings.Contains(s.Name, value) {
			t.Errorf("step %q reported a secret's value", s.Name)
		}
	}

	// Everything the engine holds of the image: config, history, layers.
	rc, err := c.ImageSave(t.Context(), []string{img.ID})
	must(t, err)
	saved, err := io.ReadAll(rc)
	rc.Close()
	must(t, err)
	hist, err := c.ImageHistory(t.Context(), img.ID)
	must(t, err)
	var h strings.Builder
	for _, e := range hist.Items {
		h.WriteString(e.CreatedBy + e.Comment)
	}
	for _, s := range []string{value, strings.TrimSpace(strings.Split(fromFile, "\n")[0])} {
		if bytes.Contains(saved, []byte(s)) {
			t.Error("a secret's value is in the saved image")
		}
		if strings.Contains(h.String(), s) {
			t.Error("a secret's value is in the image's history")
		}
	}
}

// TestIntegrationSecretMissing: a step that requires a secret the run was
// not given fails naming the secret; a secret file gone before the build
// fails it before anything runs, naming the id and the file.
func TestIntegrationSecretMissing(t *testing.T) {
	t.Parallel()
	e, _ := engine(t)
	t.Run("not given", func(t *testing.T) {
		t.Parallel()
		bc, _ := openContext(t, "FROM "+testenv.BusyboxImage+"\nCOPY nonce.txt /n\n"+checkSecret("absent", "x")+"\n")
		_, err := e.Build(t.Context(), build.Spec{Context: bc, Network: "none", Secrets: []build.Secret{{ID: "other", Value: []byte("x")}}}, &testenv.Steps{})
		if err == nil || !strings.Contains(err.Error(), "absent") {
			t.Errorf("Build() = %v, want an error naming the secret absent", err)
		}
	})
	t.Run("wrong value", func(t *testing.T) {
		// The control for TestIntegrationSecrets: the hash check does fail.
		t.Parallel()
		bc, _ := openContext(t, "FROM "+testenv.BusyboxImage+"\nCOPY nonce.txt /n\n"+checkSecret("npm", "right")+"\n")
		_, err := e.Build(t.Context(), build.Spec{Context: bc, Network: "none", Secrets: []build.Secret{{ID: "npm", Value: []byte("wrong")}}}, &testenv.Steps{})
		var se *build.StepError
		if !errors.As(err, &se) {
			t.Errorf("Build() = %v, want the step that checks the hash to fail", err)
		}
	})
	t.Run("file gone", func(t *testing.T) {
		t.Parallel()
		bc, _ := openContext(t, "FROM "+testenv.BusyboxImage+"\n"+checkSecret("f", "x")+"\n")
		gone := filepath.Join(t.TempDir(), "gone")
		_, err := e.Build(t.Context(), build.Spec{Context: bc, Network: "none", Secrets: []build.Secret{{ID: "f", File: gone}}}, &testenv.Steps{})
		if err == nil || !strings.Contains(err.Error(), "build secret f") || !strings.Contains(err.Error(), gone) {
			t.Errorf("Build() = %v, want an error naming secret f and its file", err)
		}
	})
	t.Run("too big", func(t *testing.T) {
		t.Parallel()
		bc, _ := openContext(t, "FROM "+testenv.BusyboxImage+"\n"+checkSecret("big", "x")+"\n")
		big := bytes.Repeat([]byte("s"), 600*1024)
		_, err := e.Build(t.Context(), build.Spec{Context: bc, Network: "none", Secrets: []build.Secret{{ID: "big", Value: big}}}, &testenv.Steps{})
		if err == nil || !strings.Contains(err.Error(), "build secret big") || strings.Contains(err.Error(), "sss") {
			t.Errorf("Build() = %v, want an error naming secret big and not its value", err)
		}
	})
}

// TestIntegrationSecretsNeedSession: with the context sent as a tar body
// there is no session, so secrets cannot reach the build: it fails saying so.
func TestIntegrationSecretsNeedSession(t *testing.T) {
	t.Parallel()
	e, _ := engine(t, docker.WithTarContext())
	bc, _ := openContext(t, "FROM "+testenv.BusyboxImage+"\n"+checkSecret("npm", "v")+"\n")
	_, err := e.Build(t.Context(), build.Spec{Context: bc, Network: "none", Secrets: []build.Secret{{ID: "npm", Value: []byte("a-value-never-shown")}}}, &testenv.Steps{})
	if err == nil || !strings.Contains(err.Error(), "session") || strings.Contains(err.Error(), "a-value-never-shown") {
		t.Errorf("Build() = %v, want an error about the session, without the value", err)
	}
}

// TestIntegrationSSH: RUN --mount=type=ssh finds an agent's socket, served
// from a real ssh-agent (the default id) and from a key file (a named id).
func TestIntegrationSSH(t *testing.T) {
	t.Parallel()
	e, _ := engine(t)
	sock, key := testenv.SSHAgent(t)
	bc, _ := openContext(t, `FROM `+testenv.BusyboxImage+`
COPY nonce.txt /nonce.txt
RUN --mount=type=ssh,required=true test -S "$SSH_AUTH_SOCK" && echo default-agent-there
RUN --mount=type=ssh,id=deploy,required=true test -S "$SSH_AUTH_SOCK" && echo deploy-agent-there
`)
	var p testenv.Steps
	_, err := e.Build(t.Context(), build.Spec{Context: bc, Network: "none", SSH: []build.SSH{
		{ID: "default", Paths: []string{sock}},
		{ID: "deploy", Paths: []string{key}},
	}}, &p)
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	for _, want := range []string{"default-agent-there", "deploy-agent-there"} {
		found := false
		for _, s := range p.Done {
			found = found || bytes.Contains(s.Log, []byte(want))
		}
		if !found {
			t.Errorf("no step printed %s: the socket was not there", want)
		}
	}
}

// TestIntegrationSSHBadPath: a path that is neither a socket nor a key
// fails the build before it starts, naming the id and the path.
func TestIntegrationSSHBadPath(t *testing.T) {
	t.Parallel()
	e, _ := engine(t)
	notKey := filepath.Join(t.TempDir(), "not-a-key")
	must(t, os.WriteFile(notKey, []byte("hello"), 0o600))
	bc, _ := openContext(t, "FROM "+testenv.BusyboxImage+"\nRUN --mount=type=ssh true\n")
	_, err := e.Build(t.Context(), build.Spec{Context: bc, Network: "none", SSH: []build.SSH{{ID: "git", Paths: []string{notKey}}}}, &testenv.Steps{})
	if err == nil || !strings.Contains(err.Error(), "ssh git: "+notKey) {
		t.Errorf("Build() = %v, want an error naming ssh git and the path", err)
	}
	var se *build.StepError
	if errors.As(err, &se) {
		t.Errorf("Build() = %v: a build step ran", err)
	}
}
