package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/org/ms-build-action/internal/action"
)

// componentOnly are the GitLab component's inputs that are not ms-build's:
// they shape the job that runs ms-build, which on GitHub the workflow itself
// (runs-on, the step) decides, and on a laptop the person typing.
var componentOnly = map[string]string{
	"job-name":         "the job's name, so that a pipeline can include the component twice",
	"stage":            "the pipeline stage the job runs in",
	"image":            "the image the job runs in: GitLab runs a component's job in a container",
	"docker-host":      "the engine the job talks to: GitLab jobs get one as a service, not on the host",
	"docker-cert-path": "the client certificates for that engine's TLS, or \"\" for a socket",
	"services":         "the docker:dind service that is that engine, or [] when the runner gives a socket",
	"aws-role-arn":     "the role the job's GitLab ID token is traded for: on GitHub configure-aws-credentials does it",
	"aws-audience":     "the ID token's audience for that role",
}

// expands are the inputs whose job variable GitLab expands: the mTLS
// material, which a File-type variable ($BUILDKIT_KEY, its path) holds.
var expands = map[string]bool{"buildkit-ca": true, "buildkit-cert": true, "buildkit-key": true}

// TestGitLabComponentInputs keeps every GitLab component (templates/*.yml)
// true to the inputs the binary knows, as TestActionYAML does for action.yml:
// the same names in the same order as action.Specs, the CLI flags and
// action.yml, with the same documented defaults, typed as GitLab must check
// them; and checks that the job hands every input to ms-build as INPUT_*,
// unexpanded, and uses every input it declares.
func TestGitLabComponentInputs(t *testing.T) {
	t.Parallel()
	templates, err := filepath.Glob("templates/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(templates) == 0 {
		t.Fatal("no component in templates/")
	}

	// The CLI's flags, as main defines them: name and default.
	type input struct{ Name, Default string }
	fs := flag.NewFlagSet("ms-build", flag.ContinueOnError)
	action.Flags(fs)
	var flags []input
	fs.VisitAll(func(f *flag.Flag) { flags = append(flags, input{f.Name, f.DefValue}) })
	var specs []input
	for _, s := range action.Specs {
		specs = append(specs, input{s.Name, s.Default})
	}
	// VisitAll goes by name; the table's order is the one documentation shows.
	byName := slices.Clone(specs)
	slices.SortFunc(byName, func(a, b input) int { return strings.Compare(a.Name, b.Name) })
	if diff := cmp.Diff(byName, flags); diff != "" {
		t.Errorf("CLI flags (-action.Specs +flags):\n%s", diff)
	}

	for _, path := range templates {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			spec, body := readComponent(t, path)
			var got []input
			for i := 0; i+1 < len(spec.Spec.Inputs.Content); i += 2 {
				name, node := spec.Spec.Inputs.Content[i].Value, spec.Spec.Inputs.Content[i+1]
				var v struct {
					Type        string
					Default     yaml.Node
					Description string
				}
				if err := node.Decode(&v); err != nil {
					t.Fatal(err)
				}
				if v.Description == "" {
					t.Errorf("input %s has no description", name)
				}
				if !strings.Contains(string(body), "$[[ inputs."+name+" ]]") {
					t.Errorf("input %s is declared but the job never uses it", name)
				}
				if _, ok := componentOnly[name]; ok {
					continue
				}
				if v.Default.Kind != yaml.ScalarNode {
					// GitLab makes an input without a default required; the
					// binary decides which inputs are required, and says why.
					t.Errorf("input %s has no default (or not a scalar one): GitLab would require it", name)
				}
				got = append(got, input{name, v.Default.Value})
				if want := gitlabType(name); v.Type != want {
					t.Errorf("input %s: type %q, want %q (a pipeline passes it as YAML %s)", name, v.Type, want, or(want, "string"))
				}
				// Every input reaches ms-build as INPUT_<NAME> (as GitLab can
				// only name a variable with _), not re-read by a shell or
				// expanded: a "$" in a value stays as it is. The mTLS material
				// alone expands: a File-type variable holds the key.
				k := action.EnvName(name)
				vr := body.variable(k)
				if expands[name] {
					if vr.Value != "$[[ inputs."+name+" ]]" || (vr.Expand != nil && !*vr.Expand) {
						t.Errorf("job variable %s = {value: %q, expand: %v}, want {value: %q} expanded", k, vr.Value, deref(vr.Expand), "$[[ inputs."+name+" ]]")
					}
					continue
				}
				if vr.Value != "$[[ inputs."+name+" ]]" || vr.Expand == nil || *vr.Expand {
					t.Errorf("job variable %s = {value: %q, expand: %v}, want {value: %q, expand: false}", k, vr.Value, deref(vr.Expand), "$[[ inputs."+name+" ]]")
				}
			}
			if diff := cmp.Diff(specs, got); diff != "" {
				t.Errorf("component inputs (-binary +component):\n%s", diff)
			}
		})
	}
}

// gitlabType is the spec type an input must have: GitLab checks a value
// against it, so a boolean or a number a pipeline writes as YAML (push:
// false, cache-retention-days: 7) is only accepted when the type says so.
func gitlabType(name string) string {
	for _, s := range action.Specs {
		if s.Name != name {
			continue
		}
		if s.Default == "true" || s.Default == "false" {
			return "boolean"
		}
		if _, err := strconv.Atoi(s.Default); err == nil {
			return "number"
		}
	}
	return ""
}

type componentSpec struct {
	Spec struct {
		Inputs yaml.Node
	}
}

// componentBody is the job part of a component, after the spec's "---".
type componentBody string

type jobVariable struct {
	Value  string
	Expand *bool
}

// variable is the job's variable k (there is one job).
func (b componentBody) variable(k string) jobVariable {
	var jobs map[string]struct {
		Variables map[string]yaml.Node
	}
	if err := yaml.Unmarshal([]byte(b), &jobs); err != nil {
		return jobVariable{}
	}
	for _, j := range jobs {
		n, ok := j.Variables[k]
		if !ok {
			continue
		}
		var v jobVariable
		if n.Kind == yaml.ScalarNode {
			v.Value = n.Value
		} else if err := n.Decode(&v); err != nil {
			return jobVariable{}
		}
		return v
	}
	return jobVariable{}
}

// readComponent splits a component into its spec header and its body, as
// GitLab does, and checks that the body is YAML.
func readComponent(t *testing.T, path string) (componentSpec, componentBody) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var spec componentSpec
	if err := dec.Decode(&spec); err != nil {
		t.Fatalf("reading the spec header: %v", err)
	}
	var body yaml.Node
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("reading the body after ---: %v", err)
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		t.Fatalf("want two YAML documents, the spec and the job: %v", err)
	}
	_, rest, ok := bytes.Cut(b, []byte("\n---\n"))
	if !ok {
		t.Fatal("no --- line between the spec and the job")
	}
	return spec, componentBody(rest)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func deref(b *bool) any {
	if b == nil {
		return "unset"
	}
	return *b
}

// TestGitLabComponentDind: the job talks to its docker:dind service over
// TLS (the ECR password goes to the engine), and takes no artifacts of
// earlier jobs, whose dotenv reports would set its variables.
func TestGitLabComponentDind(t *testing.T) {
	t.Parallel()
	spec, body := readComponent(t, "templates/ms-build.yml")
	for k, want := range map[string]string{
		"DOCKER_TLS_CERTDIR": "/certs",
		"DOCKER_TLS_VERIFY":  "1",
		"DOCKER_CERT_PATH":   "$[[ inputs.docker-cert-path ]]",
		"DOCKER_HOST":        "$[[ inputs.docker-host ]]",
	} {
		if got := body.variable(k).Value; got != want {
			t.Errorf("job variable %s = %q, want %q", k, got, want)
		}
	}
	var inputs map[string]*struct{ Default yaml.Node }
	if err := spec.Spec.Inputs.Decode(&inputs); err != nil {
		t.Fatal(err)
	}
	if got, want := inputs["docker-host"].Default.Value, "tcp://docker:2376"; got != want {
		t.Errorf("docker-host defaults to %q, want the TLS port, %q", got, want)
	}
	if got, want := inputs["docker-cert-path"].Default.Value, "/certs/client"; got != want {
		t.Errorf("docker-cert-path defaults to %q, want %q", got, want)
	}
	var services []struct {
		Name, Alias string
		Variables   map[string]string
	}
	if err := inputs["services"].Default.Decode(&services); err != nil || len(services) != 1 {
		t.Fatalf("services default = %v (%v), want one dind service", services, err)
	}
	if s := services[0]; !strings.Contains(s.Name, "dind") || s.Alias != "docker" || s.Variables["DOCKER_TLS_CERTDIR"] != "/certs" {
		t.Errorf("the default service = %+v, want docker:*-dind as docker with DOCKER_TLS_CERTDIR=/certs", s)
	}
	var jobs map[string]struct{ Dependencies *[]string }
	if err := yaml.Unmarshal([]byte(body), &jobs); err != nil {
		t.Fatal(err)
	}
	for name, j := range jobs {
		if j.Dependencies == nil || len(*j.Dependencies) != 0 {
			t.Errorf("job %s: dependencies = %v, want []", name, j.Dependencies)
		}
	}
}

// TestGitLabComponentVersionAndOIDC: the image is pinned to the component's
// version in the job (GitLab does not interpolate component.* in input
// defaults); the job asks for an ID token with the aws-audience input and
// takes the role from aws-role-arn unexpanded; the script writes the token
// to a temporary file it removes, and names it nowhere else.
func TestGitLabComponentVersionAndOIDC(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("templates/ms-build.yml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Spec struct {
			Component []string
			Inputs    map[string]struct{ Default yaml.Node }
		}
	}
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&spec); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(spec.Spec.Component, "version") {
		t.Errorf("spec:component = %v, want version (GitLab interpolates only what the spec names)", spec.Spec.Component)
	}
	for name, in := range spec.Spec.Inputs {
		if in.Default.Kind == yaml.ScalarNode && strings.Contains(in.Default.Value, "$[[") {
			t.Errorf("input %s defaults to %q: GitLab leaves $[[ ]] in defaults as it is", name, in.Default.Value)
		}
	}
	_, body := readComponent(t, "templates/ms-build.yml")
	var jobs map[string]struct {
		Image    struct{ Name string }
		IDTokens map[string]struct{ Aud string } `yaml:"id_tokens"`
		Script   []string
	}
	if err := yaml.Unmarshal([]byte(body), &jobs); err != nil {
		t.Fatal(err)
	}
	for name, j := range jobs {
		if want := "$[[ inputs.image ]]:v$[[ component.version ]]"; j.Image.Name != want {
			t.Errorf("job %s: image %q, want %q", name, j.Image.Name, want)
		}
		if got := j.IDTokens["MSB_ID_TOKEN"].Aud; got != "$[[ inputs.aws-audience ]]" {
			t.Errorf("job %s: id_tokens MSB_ID_TOKEN aud = %q, want the aws-audience input", name, got)
		}
		script := strings.Join(j.Script, "\n")
		if n := strings.Count(script, "$MSB_ID_TOKEN"); n != 1 || !strings.Contains(script, `printf '%s' "$MSB_ID_TOKEN" > "$AWS_WEB_IDENTITY_TOKEN_FILE"`) {
			t.Errorf("job %s: the script uses the token %d times, want once, written to the token file:\n%s", name, n, script)
		}
		for _, want := range []string{"$(mktemp)", `trap 'rm -f "$AWS_WEB_IDENTITY_TOKEN_FILE"' EXIT`, "unset MSB_ID_TOKEN\n"} {
			if !strings.Contains(script, want) {
				t.Errorf("job %s: the script lacks %q", name, want)
			}
		}
	}
	if v := body.variable("MSB_AWS_ROLE_ARN"); v.Value != "$[[ inputs.aws-role-arn ]]" || v.Expand == nil || *v.Expand {
		t.Errorf("MSB_AWS_ROLE_ARN = %+v, want the aws-role-arn input, unexpanded", v)
	}
}

// TestGitLabComponentScript runs the job's script with sh, as a runner
// does, in a temporary directory that does not exist yet (the ms-build
// image is FROM scratch: no /tmp), with a stand-in ms-build: with
// aws-role-arn, ms-build sees the role and the token in a file, not the
// token variable nor AWS keys; the file is gone afterwards, whatever the
// exit status; without a token the job fails saying so; without
// aws-role-arn nothing changes for static keys.
func TestGitLabComponentScript(t *testing.T) {
	t.Parallel()
	_, body := readComponent(t, "templates/ms-build.yml")
	var jobs map[string]struct{ Script []string }
	if err := yaml.Unmarshal([]byte(body), &jobs); err != nil {
		t.Fatal(err)
	}
	var script string
	for _, j := range jobs {
		script = strings.Join(j.Script, "\n")
	}
	bin := t.TempDir()
	fake := "#!/bin/sh\necho \"role=$AWS_ROLE_ARN token=$(cat \"$AWS_WEB_IDENTITY_TOKEN_FILE\" 2>/dev/null) id=${MSB_ID_TOKEN-unset} key=${AWS_ACCESS_KEY_ID-unset}\"\necho \"$AWS_WEB_IDENTITY_TOKEN_FILE\" > \"$SEEN\"\nexit \"${FAIL:-0}\"\n"
	if err := os.WriteFile(filepath.Join(bin, "ms-build"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		code int
		want string
	}{
		{"role", []string{"MSB_AWS_ROLE_ARN=arn:aws:iam::1:role/ci", "MSB_ID_TOKEN=h.p.s", "AWS_ACCESS_KEY_ID=AKIA"}, 0, "role=arn:aws:iam::1:role/ci token=h.p.s id=unset key=unset"},
		{"role, ms-build fails", []string{"MSB_AWS_ROLE_ARN=arn:aws:iam::1:role/ci", "MSB_ID_TOKEN=h.p.s", "FAIL=3"}, 3, "token=h.p.s id=unset"},
		{"role, no token", []string{"MSB_AWS_ROLE_ARN=arn:aws:iam::1:role/ci"}, 1, "aws-role-arn is set but the job got no ID token in MSB_ID_TOKEN"},
		{"static keys", []string{"MSB_ID_TOKEN=h.p.s", "AWS_ACCESS_KEY_ID=AKIA"}, 0, "role= token= id=unset key=AKIA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			seen := filepath.Join(dir, "seen")
			cmd := exec.Command("sh", "-c", script)
			cmd.Dir = dir
			cmd.Env = append([]string{"PATH=" + bin + ":" + os.Getenv("PATH"), "TMPDIR=" + filepath.Join(dir, "tmp"), "SEEN=" + seen}, tc.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %d, output %q; want exit %d and %q", code, out, tc.code, tc.want)
			}
			if b, err := os.ReadFile(seen); err == nil && strings.TrimSpace(string(b)) != "" {
				if _, err := os.Stat(strings.TrimSpace(string(b))); err == nil {
					t.Errorf("the token file %s is left after the job", b)
				}
				if !strings.HasPrefix(string(b), filepath.Join(dir, "tmp")+"/") {
					t.Errorf("the token file %s is not in TMPDIR", b)
				}
			}
		})
	}
}
