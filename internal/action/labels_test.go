package action

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLabelsAndAnnotations(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 60<<10)
	for _, input := range []string{"labels", "annotations"} {
		t.Run(input, func(t *testing.T) {
			t.Parallel()
			for _, tt := range []struct {
				name, value string
				want        map[string]string
				err         string // the whole message, when an error is wanted
			}{
				{name: "none"},
				{name: "lines, comments, indentation and CRLF",
					value: "  # who owns it\n  com.example.team=payments\r\n\n\torg.opencontainers.image.vendor=Acme Inc.\n",
					want:  map[string]string{"com.example.team": "payments", "org.opencontainers.image.vendor": "Acme Inc."}},
				{name: "hostile values round-trip",
					value: "a=100% done\nb=::error::x\nc=\"double\" 'single' `back` $HOME ${{ x }}\nd=k=v=w\ne=\nf= spaced \ng=日本語\th",
					want: map[string]string{"a": "100% done", "b": "::error::x", "c": "\"double\" 'single' `back` $HOME ${{ x }}", "d": "k=v=w", "e": "",
						"f": " spaced ", "g": "日本語\th"}},
				{name: "a long value", value: "k=" + long, want: map[string]string{"k": long}},
				{name: "no equals", value: "a=1\nteam payments\n",
					err: `input ` + input + `: line 2 ("team payments") has no '=': write one KEY=VALUE a line`},
				{name: "empty key", value: " =x",
					err: `input ` + input + `: line 1 has an empty key: write one KEY=VALUE a line, e.g. org.opencontainers.image.vendor=Acme`},
				{name: "duplicate key", value: "a=1\n# c\n a = 2\n",
					err: `input ` + input + `: a is given twice (lines 1 and 3): give each key once`},
				{name: "space in key", value: "my key=1",
					err: `input ` + input + `: line 1: the key "my key" holds a space, a control character or a quote: use letters, digits and . - _ / in a reverse-DNS key, e.g. com.example.team`},
				{name: "quote in key", value: `k"=1`,
					err: `input ` + input + `: line 1: the key "k\"" holds a space, a control character or a quote: use letters, digits and . - _ / in a reverse-DNS key, e.g. com.example.team`},
				{name: "control character in value", value: "k=a\x1b[31mred",
					err: `input ` + input + `: line 1: the value of k holds a control character or invalid UTF-8: give plain text`},
				{name: "too long a key", value: strings.Repeat("k", 300) + "=1",
					err: `input ` + input + `: line 1: the key "` + strings.Repeat("k", 64) + `..." is longer than 256 bytes: use a short reverse-DNS key, e.g. com.example.team`},
				{name: "too much", value: "k=" + long + long,
					err: `input ` + input + `: 122882 bytes given, over the limit of 65536: keep ` + input + ` short (link to long texts)`},
			} {
				got, err := Parse(map[string]string{"dry-run": "true", input: tt.value}, Environment{CI: CI{Provider: Local, SHA: "0123456789"}})
				if tt.err != "" {
					var ie *InputError
					if !errors.As(err, &ie) || err.Error() != tt.err {
						t.Errorf("%s: error %v, want %s", tt.name, err, tt.err)
					}
					if err != nil && strings.Contains(err.Error(), "\n") {
						t.Errorf("%s: the error spans lines", tt.name)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", tt.name, err)
					continue
				}
				field := got.Labels
				if input == "annotations" {
					field = got.Annotations
				}
				if diff := cmp.Diff(tt.want, field); diff != "" {
					t.Errorf("%s (-want +got):\n%s", tt.name, diff)
				}
			}
		})
	}
}

// TestRepeatedFlags proves --labels and --annotations may be given many
// times, a line each, while other flags keep their last value.
func TestRepeatedFlags(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("ms-build", flag.ContinueOnError)
	get := Flags(fs)
	if err := fs.Parse([]string{"--labels", "a=1", "--labels=b=2", "--annotations", "c=3", "--tags", "x", "--tags", "y"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"labels": "a=1\nb=2", "annotations": "c=3", "tags": "y"}
	if diff := cmp.Diff(want, get()); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
}

func TestRepositoryFromCI(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		host    Host
		want    Repo
		version string
	}{
		{name: "github event", host: gitHubHost(map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/app"},
			`{"repository":{"default_branch":"main","name":"app","description":"The app: 100% \"ours\" ::x::","html_url":"https://github.com/acme/app","license":{"spdx_id":"MIT"}}}`),
			want: Repo{Title: "app", Description: `The app: 100% "ours" ::x::`, URL: "https://github.com/acme/app", Licenses: "MIT"}, version: "main"},
		{name: "github without payload fields, on a tag", host: gitHubHost(map[string]string{"GITHUB_SERVER_URL": "https://github.example.com", "GITHUB_REPOSITORY": "acme/app",
			"GITHUB_REF": "refs/tags/v1.2.3", "GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v1.2.3"}, `{"repository":{"license":{"spdx_id":"NOASSERTION"}}}`),
			want: Repo{Title: "app", URL: "https://github.example.com/acme/app"}, version: "v1.2.3"},
		{name: "github, a long description cut", host: gitHubHost(nil, `{"repository":{"name":"app","description":"`+strings.Repeat("é", 3000)+`"}}`),
			want: Repo{Title: "app", Description: strings.Repeat("é", 2048)}, version: "main"},
		{name: "github pull request", host: gitHubHost(map[string]string{"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/12/merge"}, ""),
			version: "pr-12"},
		{name: "gitlab", host: gitLabHost(map[string]string{"CI_PROJECT_TITLE": "App Server", "CI_PROJECT_NAME": "app", "CI_PROJECT_DESCRIPTION": "line one\nline two",
			"CI_PROJECT_URL": "https://gitlab.example.com/acme/app", "CI_COMMIT_BRANCH": "feature/x"}),
			want: Repo{Title: "App Server", Description: "line one\nline two", URL: "https://gitlab.example.com/acme/app"}, version: "feature-x"},
		{name: "gitlab name only", host: gitLabHost(map[string]string{"CI_PROJECT_NAME": "app"}), want: Repo{Title: "app"}, version: "main"},
		{name: "laptop with an origin holding a token", host: Host{Getenv: func(string) string { return "" },
			Git:    func() Checkout { return Checkout{SHA: "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4", Branch: "main"} },
			Origin: func() string { return "https://x-access-token:ghs_SECRET@github.com/acme/app.git\n" }},
			want: Repo{Title: "app", URL: "https://github.com/acme/app"}, version: "main"},
		{name: "laptop without git", host: Host{Getenv: func(string) string { return "" }}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := DetectCI(tt.host)
			if diff := cmp.Diff(tt.want, c.Repo); diff != "" {
				t.Errorf("repository (-want +got):\n%s", diff)
			}
			if got := c.Version(); got != tt.version {
				t.Errorf("version %q, want %q", got, tt.version)
			}
		})
	}
}

func TestWebURL(t *testing.T) {
	t.Parallel()
	for remote, want := range map[string]string{
		"https://github.com/acme/app.git":                    "https://github.com/acme/app",
		"https://user:p%40ss@gitlab.example.com/g/sub/app":   "https://gitlab.example.com/g/sub/app",
		"git@github.com:acme/app.git":                        "https://github.com/acme/app",
		"ssh://git@gitlab.example.com:2222/acme/app.git":     "https://gitlab.example.com/acme/app",
		"http://token@127.0.0.1:8080/acme/app/":              "http://127.0.0.1:8080/acme/app",
		"/srv/git/app.git":                                   "",
		"file:///srv/git/app.git":                            "",
		"../app":                                             "",
		"":                                                   "",
		"https://github.com/acme/app\"><script>":             "",
		"https://github.com/acme/a%20b":                      "",
		"git@github.com:/abs/path.git":                       "",
		"https://github.com/acme/app.git?token=SECRET#frag":  "https://github.com/acme/app",
		"git://git.kernel.org/pub/scm/git/git.git":           "https://git.kernel.org/pub/scm/git/git",
		"https://github.com":                                 "",
		"https://github.com/acme/app.git/":                   "https://github.com/acme/app",
		"ssh://github.com/acme/%0Aapp":                       "",
		"https://ghs_TOKEN@github.com/acme/app.git ":         "https://github.com/acme/app",
		"ext::ssh -o ProxyCommand=evil github.com %S app":    "",
		"C:/Users/me/app":                                    "",
		"github.com:acme/app":                                "https://github.com/acme/app",
		"https://[::1]:8443/acme/app":                        "https://[::1]:8443/acme/app",
		"ssh://git@[::1]:22/acme/app":                        "https://[::1]/acme/app",
		"https://github.com/" + strings.Repeat("a", 20) + "": "https://github.com/" + strings.Repeat("a", 20),
	} {
		if got := webURL(remote); got != want {
			t.Errorf("webURL(%q) = %q, want %q", remote, got, want)
		}
	}
}
