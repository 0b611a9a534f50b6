package action

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// secretValue is in every case's secrets, to be looked for in every error.
const secretValue = "hunter2-Zq8+/x=="

func TestParseSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file, sock, key := filepath.Join(dir, "npmrc"), filepath.Join(dir, "agent.sock"), filepath.Join(dir, "id_ed25519")
	for _, p := range []string{file, sock, key} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"NPM_TOKEN": "from-env", "SSH_AUTH_SOCK": sock}
	raw := map[string]string{
		"repository":   "team/app",
		"aws-region":   "us-east-1",
		"tags":         "v1",
		"secrets":      "npm=" + secretValue + "\n# a comment\n\n  pip = has spaces = and equals \r\n",
		"secret-envs":  "token=NPM_TOKEN",
		"secret-files": "npmrc=" + file,
		"ssh":          "default\ndeploy=" + key + "," + key,
	}
	got, err := Parse(raw, Environment{Getenv: func(k string) string { return env[k] }, CI: CI{Provider: GitHub}})
	if err != nil {
		t.Fatal(err)
	}
	wantSecrets := []Secret{
		{ID: "npm", Value: []byte(secretValue)},
		{ID: "pip", Value: []byte(" has spaces = and equals ")},
		{ID: "token", Value: []byte("from-env")},
		{ID: "npmrc", File: file},
	}
	if diff := cmp.Diff(wantSecrets, got.Secrets); diff != "" {
		t.Errorf("Secrets (-want +got):\n%s", diff)
	}
	// default is the agent at SSH_AUTH_SOCK, resolved here from the
	// injected environment: the builder reads no environment of its own.
	wantSSH := []SSH{{ID: "default", Paths: []string{sock}}, {ID: "deploy", Paths: []string{key, key}}}
	if diff := cmp.Diff(wantSSH, got.SSH); diff != "" {
		t.Errorf("SSH (-want +got):\n%s", diff)
	}
}

// TestParseSecretErrors: each bad secret or SSH line fails with an
// *InputError that names the input, says what to write, and never holds a
// secret's value.
func TestParseSecretErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte(secretValue), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	base := map[string]string{"repository": "team/app", "aws-region": "us-east-1", "tags": "v1"}
	cases := []struct {
		name  string
		set   map[string]string
		env   map[string]string
		input string
		want  string // in the message
	}{
		{"secrets line without =", map[string]string{"secrets": secretValue[:7]}, nil, "secrets", "line 1 is not id=value"},
		{"secrets bad id", map[string]string{"secrets": "a/b=" + secretValue}, nil, "secrets", "line 1 is not id=value"},
		// A multi-line value pasted into secrets: its second line looks like
		// id=value with an id that is not one. The message names the line,
		// not its text.
		{"secrets multi-line value", map[string]string{"secrets": "key=-----BEGIN KEY-----\n\n" + secretValue + "\n-----END KEY-----"}, nil, "secrets", "line 3 is not id=value"},
		{"secrets empty id", map[string]string{"secrets": "=" + secretValue}, nil, "secrets", "line 1"},
		{"secrets twice", map[string]string{"secrets": "npm=" + secretValue + "\nnpm=" + secretValue}, nil, "secrets", "npm is given twice"},
		{"secrets and secret-envs", map[string]string{"secrets": "npm=" + secretValue, "secret-envs": "npm=TOKEN"}, map[string]string{"TOKEN": secretValue}, "secret-envs", "npm is given twice (also in secrets)"},
		{"secrets and secret-files", map[string]string{"secrets": "npm=" + secretValue, "secret-files": "npm=" + file}, nil, "secret-files", "npm is given twice (also in secrets)"},
		{"secret-envs and secret-files", map[string]string{"secret-envs": "npm=TOKEN", "secret-files": "npm=" + file}, map[string]string{"TOKEN": secretValue}, "secret-files", "npm is given twice (also in secret-envs)"},
		{"secret-envs variable unset", map[string]string{"secret-envs": "npm=NPM_TOKEN"}, nil, "secret-envs", "NPM_TOKEN is not set (for secret npm)"},
		{"secret-envs no variable", map[string]string{"secret-envs": "npm="}, nil, "secret-envs", "id=VARIABLE"},
		{"secret-envs bad id", map[string]string{"secret-envs": "n p m=TOKEN"}, map[string]string{"TOKEN": secretValue}, "secret-envs", "not a secret id"},
		{"secret-files missing file", map[string]string{"secret-files": "npm=" + missing}, nil, "secret-files", missing + " (for secret npm) is not a readable file"},
		{"secret-files directory", map[string]string{"secret-files": "npm=" + dir}, nil, "secret-files", "is not a readable file"},
		{"secret-files no path", map[string]string{"secret-files": "npm"}, nil, "secret-files", "id=path"},
		{"ssh default without agent", map[string]string{"ssh": "default"}, nil, "ssh", "SSH_AUTH_SOCK is not set"},
		{"ssh agent gone", map[string]string{"ssh": "default"}, map[string]string{"SSH_AUTH_SOCK": missing}, "ssh", missing + " (for default) is not there"},
		{"ssh missing key", map[string]string{"ssh": "git=" + missing}, nil, "ssh", missing + " (for git) is not there"},
		{"ssh bad id", map[string]string{"ssh": "my key=" + file}, nil, "ssh", "not an SSH id"},
		{"ssh twice", map[string]string{"ssh": "git=" + file + "\ngit=" + file}, nil, "ssh", "git is given twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(Merge(base, tc.set), Environment{Getenv: func(k string) string { return tc.env[k] }, CI: CI{Provider: GitHub}})
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("Parse() error = %v, want an *InputError", err)
			}
			if got, want := ie.Input, tc.input; got != want {
				t.Errorf("input = %q, want %q", got, want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			for _, part := range []string{secretValue, secretValue[:7], "Zq8+"} {
				if strings.Contains(err.Error(), part) {
					t.Errorf("error %q holds (part of) a secret's value", err)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines, want one", err)
			}
		})
	}
}
