package main

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/org/ms-build-action/internal/action"
)

// TestActionYAML keeps action.yml true to the inputs and outputs the binary
// knows, and checks that the composite step hands every input over: GitHub
// gives a composite action's steps no INPUT_* variables of its own.
func TestActionYAML(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Inputs  yaml.Node
		Outputs yaml.Node
		Runs    struct {
			Using string
			Steps []struct {
				ID    string
				Shell string
				Run   string
				Env   map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	type input struct{ Name, Default string }
	var gotIn, wantIn []input
	for i := 0; i+1 < len(doc.Inputs.Content); i += 2 {
		var v struct{ Description, Default string }
		if err := doc.Inputs.Content[i+1].Decode(&v); err != nil {
			t.Fatal(err)
		}
		if v.Description == "" {
			t.Errorf("input %s has no description", doc.Inputs.Content[i].Value)
		}
		gotIn = append(gotIn, input{doc.Inputs.Content[i].Value, v.Default})
	}
	for _, s := range action.Specs {
		wantIn = append(wantIn, input{s.Name, s.Default})
	}
	if diff := cmp.Diff(wantIn, gotIn); diff != "" {
		t.Errorf("action.yml inputs (-binary +action.yml):\n%s", diff)
	}
	var gotOut []string
	for i := 0; i+1 < len(doc.Outputs.Content); i += 2 {
		gotOut = append(gotOut, doc.Outputs.Content[i].Value)
	}
	if diff := cmp.Diff(action.OutputNames, gotOut); diff != "" {
		t.Errorf("action.yml outputs (-binary +action.yml):\n%s", diff)
	}
	if doc.Runs.Using != "composite" {
		t.Fatalf("runs.using = %q, want composite", doc.Runs.Using)
	}
	var env map[string]string
	for _, s := range doc.Runs.Steps {
		// An expression inside run: is pasted into the script before the
		// shell reads it: a value with a quote (an action ref such as
		// x"$(id)") would run. Values go through env.
		for field, v := range map[string]string{"run": s.Run, "shell": s.Shell} {
			if strings.Contains(v, "${{") {
				t.Errorf("step %s: %s holds an expression, %q: pass the value through env", s.ID, field, v)
			}
		}
		if s.ID == "build" {
			env = s.Env
			if got, want := s.Run, `"$MSB_BINARY"`; got != want {
				t.Errorf("step build: run = %q, want %q", got, want)
			}
		}
	}
	if got, want := env["MSB_BINARY"], "${{ steps.binary.outputs.path }}"; got != want {
		t.Errorf("step build: env MSB_BINARY = %q, want %q", got, want)
	}
	for _, s := range action.Specs {
		k := action.EnvName(s.Name)
		if got, want := env[k], "${{ inputs."+s.Name+" }}"; got != want {
			t.Errorf("step build: env %s = %q, want %q", k, got, want)
		}
	}
}
