package main

import (
	"slices"
	"testing"

	"github.com/org/ms-build-action/internal/action"
)

// recorder is a Reporter that keeps what was masked.
type recorder struct {
	action.Reporter
	masked []string
}

func (r *recorder) Mask(s string) { r.masked = append(r.masked, s) }

func TestMaskSecrets(t *testing.T) {
	t.Parallel()
	in := &action.Inputs{
		Secrets: []action.Secret{{ID: "npm", Value: []byte("npm-t0ken")}, {ID: "key", Value: []byte("-----BEGIN KEY-----\nAAAAbase64line\n-----END KEY-----\n")}, {ID: "f", File: "/some/file"}},
		BuildArgs: []action.BuildArg{
			{Key: "TOKEN", Value: "from-the-env", FromEnv: true},
			{Key: "VERSION", Value: "1.2.3"}, // given in the input: not a secret
			{Key: "EMPTY", Value: "", FromEnv: true},
		},
	}
	r := &recorder{}
	maskSecrets(in, r)
	for _, want := range []string{"npm-t0ken", "AAAAbase64line", "-----BEGIN KEY-----\nAAAAbase64line\n-----END KEY-----\n", "from-the-env"} {
		if !slices.Contains(r.masked, want) {
			t.Errorf("%q was not masked; masked: %q", want, r.masked)
		}
	}
	for _, not := range []string{"1.2.3", ""} {
		if slices.Contains(r.masked, not) {
			t.Errorf("%q was masked: a build argument given in the input, or an empty value, is no secret", not)
		}
	}
}
