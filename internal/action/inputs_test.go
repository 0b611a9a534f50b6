package action

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	env := Environment{
		Getenv: func(k string) string { return map[string]string{"AWS_DEFAULT_REGION": "eu-west-1"}[k] },
		CI:     CI{Provider: GitHub, SHA: "0123456789abcdef", Branch: "main", DefaultBranch: "main"},
	}
	got, err := Parse(map[string]string{"repository": "team/app"}, env)
	if err != nil {
		t.Fatal(err)
	}
	want := &Inputs{
		Repository:       "team/app",
		Region:           "eu-west-1",
		Context:          ".",
		Tags:             []string{"0123456", "latest"},
		Push:             true,
		Cache:            true,
		CacheRetention:   14,
		CacheWrite:       true,
		CreateRepository: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
	}
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	env := Environment{
		Getenv: func(k string) string { return map[string]string{"FROM_ENV": "e", "AWS_REGION": "us-east-2"}[k] },
		CI:     CI{Provider: GitHub, SHA: "0123456789abcdef", Branch: "feature", DefaultBranch: "main"},
	}
	raw := map[string]string{
		"repository":           "team/app",
		"aws-region":           "ap-southeast-2",
		"registry-id":          "123456789012",
		"context":              "src",
		"file":                 "src/Dockerfile.prod",
		"build-stage":          "build",
		"target":               "final",
		"build-args":           "A=1\n# a comment\n\nB = two=2\nFROM_ENV\n",
		"tags":                 "v1, v1.2\nedge",
		"push":                 "False",
		"dry-run":              "TRUE",
		"cache":                "false",
		"cache-key-files":      "**/*.csproj\nNuGet.config",
		"cache-salt":           "2026-11",
		"cache-retention-days": "30",
		"create-repository":    "false",
		"max-image-size":       "1.5GiB",
		"network":              "Host",
	}
	got, err := Parse(raw, env)
	if err != nil {
		t.Fatal(err)
	}
	want := &Inputs{
		Repository:     "team/app",
		Region:         "ap-southeast-2",
		RegistryID:     "123456789012",
		Context:        "src",
		File:           "src/Dockerfile.prod",
		BuildStage:     "build",
		Target:         "final",
		BuildArgs:      []BuildArg{{Key: "A", Value: "1"}, {Key: "B", Value: " two=2"}, {Key: "FROM_ENV", Value: "e", FromEnv: true}},
		Tags:           []string{"v1", "v1.2", "edge"},
		DryRun:         true,
		CacheKeyFiles:  []string{"**/*.csproj", "NuGet.config"},
		CacheSalt:      "2026-11",
		CacheRetention: 30,
		MaxImageSize:   1610612736,
		Network:        "host",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
	}
}

func TestParseDryRunNeedsNoAWS(t *testing.T) {
	t.Parallel()
	got, err := Parse(map[string]string{"dry-run": "true"}, Environment{CI: CI{Provider: Local}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Repository == "" || got.Region == "" {
		t.Errorf("dry run without repository and region: got repository %q region %q, want defaults", got.Repository, got.Region)
	}
	if diff := cmp.Diff([]string{"latest"}, got.Tags); diff != "" {
		t.Errorf("tags on a laptop without git (-want +got):\n%s", diff)
	}
}

// TestParseErrors checks that each bad value fails with an *InputError that
// names the input and says what is accepted, and never echoes a build
// argument's value.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	base := map[string]string{"repository": "team/app", "aws-region": "us-east-1", "tags": "v1"}
	cases := []struct {
		name  string
		set   map[string]string
		input string
		want  string // in the message
	}{
		{"missing repository", map[string]string{"repository": ""}, "repository", "required"},
		{"uppercase repository", map[string]string{"repository": "Team/App"}, "repository", "lower-case"},
		{"repository uri", map[string]string{"repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app"}, "repository", "only the repository name"},
		{"repository with tag", map[string]string{"repository": "app:v1"}, "repository", "only the repository name"},
		{"repository too short", map[string]string{"repository": "a"}, "repository", "2 to 256"},
		{"no region", map[string]string{"aws-region": ""}, "aws-region", "required"},
		{"bad region", map[string]string{"aws-region": "Frankfurt"}, "aws-region", "us-east-1"},
		{"bad account", map[string]string{"registry-id": "12345"}, "registry-id", "12 digits"},
		{"bad stage", map[string]string{"target": "run time"}, "target", "stage name"},
		{"bad build stage", map[string]string{"build-stage": "-x"}, "build-stage", "stage name"},
		{"bad build arg", map[string]string{"build-args": "1A=x"}, "build-args", "KEY=VALUE"},
		{"duplicate build arg", map[string]string{"build-args": "A=1\nA=2"}, "build-args", "twice"},
		{"tag reference", map[string]string{"tags": "repo:v1"}, "tags", "only the tag"},
		{"bad tag", map[string]string{"tags": ".hidden"}, "tags", "128"},
		{"long tag", map[string]string{"tags": strings.Repeat("a", 129)}, "tags", "128"},
		{"reserved tag", map[string]string{"tags": "buildcache-x"}, "tags", "reserves"},
		{"bad push", map[string]string{"push": "yes"}, "push", "true or false"},
		{"bad dry-run", map[string]string{"dry-run": "1"}, "dry-run", "true or false"},
		{"bad cache", map[string]string{"cache": "off"}, "cache", "true or false"},
		{"bad create", map[string]string{"create-repository": "maybe"}, "create-repository", "true or false"},
		{"cache files outside", map[string]string{"cache-key-files": "../go.sum"}, "cache-key-files", "relative"},
		{"bad size", map[string]string{"max-image-size": "big"}, "max-image-size", "250MB"},
		{"bad unit", map[string]string{"max-image-size": "25XB"}, "max-image-size", "KiB"},
		{"zero size", map[string]string{"max-image-size": "0"}, "max-image-size", "more than 0"},
		{"bad network", map[string]string{"network": "bridge0"}, "network", "default, host or none"},
		{"bad retention", map[string]string{"cache-retention-days": "two weeks"}, "cache-retention-days", "whole number"},
		{"zero retention", map[string]string{"cache-retention-days": "0"}, "cache-retention-days", "1 to 3650"},
		{"unknown input", map[string]string{"repo": "x"}, "repo", "the inputs are"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := Merge(base, tc.set)
			_, err := Parse(raw, Environment{CI: CI{Provider: GitHub}})
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
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines, want one", err)
			}
		})
	}
}

func TestBuildArgValueNeverInError(t *testing.T) {
	t.Parallel()
	_, err := Parse(map[string]string{"repository": "a/b", "aws-region": "us-east-1", "tags": "v", "build-args": "TOKEN=s3cr3t\nTOKEN=s3cr3t"}, Environment{})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error = %v, want one that names TOKEN but not its value", err)
	}
}

func TestDefaultTags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ci   CI
		want []string
	}{
		{"default branch", CI{Provider: GitHub, SHA: "abcdef0123", Branch: "main", DefaultBranch: "main"}, []string{"abcdef0", "latest"}},
		{"other branch", CI{Provider: GitHub, SHA: "abcdef0123", Branch: "dev", DefaultBranch: "main"}, []string{"abcdef0"}},
		{"tag build", CI{Provider: GitLab, SHA: "abcdef0123", DefaultBranch: "main"}, []string{"abcdef0"}},
		{"laptop without git", CI{Provider: Local}, []string{"latest"}},
		{"ci without sha", CI{Provider: GitHub}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, tc.ci.DefaultTags()); diff != "" {
				t.Errorf("DefaultTags() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSizes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"250MB", 250_000_000}, {"250 mb", 250_000_000}, {"1.5GiB", 1_610_612_736}, {"1024", 1024}, {"10KiB", 10240}, {"2kb", 2000},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "MB", "1.2.3MB", "-1", "5 XB", "1e3"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded, want an error", in)
		}
	}
	for _, tc := range []struct {
		in   int64
		want string
	}{{999, "999 B"}, {187_300_000, "187.3 MB"}, {1_500_000, "1.5 MB"}, {2_000_000_000, "2.0 GB"}, {1_000, "1.0 kB"}} {
		if got := FormatSize(tc.in); got != tc.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
