package dockerfile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t *testing.T, src string) *Dockerfile {
	t.Helper()
	d, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func TestSyntax(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
		ok              bool
	}{
		{"none", "FROM scratch\n", "", false},
		{"directive", "# syntax=docker/dockerfile:1.7\nFROM scratch\n", "docker/dockerfile:1.7", true},
		{"spaced", "#syntax = docker/dockerfile@sha256:" + strings.Repeat("a", 64) + "\nFROM scratch\n", "docker/dockerfile@sha256:" + strings.Repeat("a", 64), true},
		{"after an instruction is a comment", "FROM scratch\n# syntax=docker/dockerfile:1\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := mustParse(t, tt.src).Syntax()
			if got != tt.want || ok != tt.ok {
				t.Errorf("Syntax() = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestImages(t *testing.T) {
	t.Parallel()
	d := mustParse(t, `FROM golang:1 AS build
COPY --from=tools:1 /bin/x /x
RUN --mount=from=cache.example.com/deps:2,target=/deps make
COPY --from=tools:1 /bin/y /y
FROM scratch AS runtime
COPY --from=build /out /out
COPY --from=0 /out /again
`)
	if diff := cmp.Diff([]string{"tools:1", "cache.example.com/deps:2"}, d.Stages[0].Images); diff != "" {
		t.Errorf("build stage's images (-want +got):\n%s", diff)
	}
	if len(d.Stages[1].Images) != 0 {
		t.Errorf("runtime stage's images = %q; it copies from stages only", d.Stages[1].Images)
	}
}

func TestRemotes(t *testing.T) {
	t.Parallel()
	d := mustParse(t, `FROM alpine AS build
ADD https://example.com/a.tgz /a.tgz
ADD --checksum=sha256:`+strings.Repeat("b", 64)+` https://example.com/b.tgz /b.tgz
ADD local.txt /local.txt
ADD git@github.com:org/repo.git /repo
COPY https.txt /x
`)
	want := []Remote{
		{Line: 2, Source: "https://example.com/a.tgz"},
		{Line: 3, Source: "https://example.com/b.tgz", Checksum: "sha256:" + strings.Repeat("b", 64)},
		{Line: 5, Source: "git@github.com:org/repo.git"},
	}
	if diff := cmp.Diff(want, d.Remotes(&d.Stages[0])); diff != "" {
		t.Errorf("Remotes (-want +got):\n%s", diff)
	}
}

func TestRestoreSources(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   string
		stage string
		want  []string
		ok    bool
	}{{
		name: "go, dependency files first",
		src:  "FROM golang:1 AS build\nWORKDIR /src\nRUN apk add git\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\nRUN go build\n",
		want: []string{"go.mod", "go.sum"}, ok: true,
	}, {
		name: "monorepo service",
		src:  "FROM node:22 AS build\nCOPY services/a/package.json services/a/package-lock.json ./\nCOPY ./shared/ ./shared/\nRUN npm ci\nCOPY services/a .\n",
		want: []string{"services/a/package.json", "services/a/package-lock.json", "shared"}, ok: true,
	}, {
		name: "globs and excludes",
		src:  "FROM sdk AS build\nCOPY --exclude=**/bin . .\nRUN dotnet restore\n",
		want: []string{"**", "!**/bin"}, ok: true,
	}, {
		name: "csproj glob",
		src:  "FROM sdk AS build\nCOPY *.csproj ./\nRUN dotnet restore\n",
		want: []string{"*.csproj"}, ok: true,
	}, {
		name: "bind mount",
		src:  "FROM golang:1 AS build\nRUN --mount=type=bind,source=go.sum,target=go.sum --mount=type=bind,source=go.mod,target=go.mod go mod download\nCOPY . .\n",
		want: []string{"go.sum", "go.mod"}, ok: true,
	}, {
		name:  "in the parent stage",
		src:   "FROM golang:1 AS deps\nCOPY go.mod go.sum ./\nRUN go mod download\nFROM deps AS build\nCOPY . .\nRUN go build\n",
		stage: "build", want: []string{"go.mod", "go.sum"}, ok: true,
	}, {
		name: "whole context first",
		src:  "FROM sdk AS build\nCOPY . .\nRUN dotnet publish\n",
	}, {
		name: "whole context bind mount",
		src:  "FROM golang:1 AS build\nRUN --mount=type=bind,target=. go build\n",
	}, {
		name: "a variable",
		src:  "FROM golang:1 AS build\nARG DIR=.\nCOPY $DIR/go.mod ./\nRUN go mod download\n",
	}, {
		name: "no RUN after the copy",
		src:  "FROM scratch AS build\nCOPY app /app\n",
	}, {
		name: "copies from stages and images only",
		src:  "FROM golang:1 AS build\nCOPY --from=tools:1 /x /x\nRUN x\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := mustParse(t, tt.src)
			s := &d.Stages[0]
			if tt.stage != "" {
				var err error
				if s, err = d.Stage(tt.stage); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := d.RestoreSources(s)
			if ok != tt.ok {
				t.Fatalf("RestoreSources ok = %v, want %v (got %q)", ok, tt.ok, got)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RestoreSources (-want +got):\n%s", diff)
			}
		})
	}
}
