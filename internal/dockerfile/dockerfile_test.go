package dockerfile

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var updateSourceGolden = flag.Bool("update-source-golden", false, "rewrite testdata/source/*.golden from Dockerfile.Source")

const dotnetDockerfile = `FROM mcr.microsoft.com/dotnet/sdk:8.0 AS build
WORKDIR /app
COPY . .
RUN dotnet publish -c Release -o out

FROM mcr.microsoft.com/dotnet/aspnet:8.0
WORKDIR /app
COPY --from=build /app/out .
ENTRYPOINT ["dotnet", "MyApp.dll"]
`

// The layout Visual Studio generates for an ASP.NET Core project.
const vsDockerfile = `# See https://aka.ms/customizecontainer to learn how to customize your debug container.
ARG DOTNET=8.0

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET} AS base
USER $APP_UID
WORKDIR /app
EXPOSE 8080

# This stage is used to build the service project
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:${DOTNET} AS build
ARG BUILD_CONFIGURATION=Release
WORKDIR /src
COPY ["MyApp/MyApp.csproj", "MyApp/"]
RUN dotnet restore "./MyApp/MyApp.csproj"
COPY . .
WORKDIR "/src/MyApp"
RUN dotnet build "./MyApp.csproj" -c $BUILD_CONFIGURATION -o /app/build

# This stage is used to publish the service project
FROM build AS publish
ARG BUILD_CONFIGURATION=Release
RUN dotnet publish "./MyApp.csproj" -c $BUILD_CONFIGURATION \
    -o /app/publish /p:UseAppHost=false

FROM base AS final
WORKDIR /app
COPY --from=publish /app/publish .
ENTRYPOINT ["dotnet", "MyApp.dll"]
`

func mustParseDockerfile(t *testing.T, src string, opts ...ParseOption) *Dockerfile {
	t.Helper()
	d, err := Parse(strings.NewReader(src), opts...)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return d
}

func TestParseDockerfileStages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		src        string
		opts       []ParseOption
		want       []Stage
		globalArgs []string
		warnings   []Error
	}{{
		name: "dotnet two stages",
		src:  dotnetDockerfile,
		want: []Stage{
			{Index: 0, Name: "build", Base: "mcr.microsoft.com/dotnet/sdk:8.0", Line: 1, EndLine: 4, Parent: -1},
			{Index: 1, Base: "mcr.microsoft.com/dotnet/aspnet:8.0", Line: 6, EndLine: 9, Parent: -1, CopiesFrom: []int{0}},
		},
	}, {
		name: "visual studio layout",
		src:  vsDockerfile,
		want: []Stage{
			{Index: 0, Name: "base", Base: "mcr.microsoft.com/dotnet/aspnet:8.0", Line: 4, EndLine: 7, Parent: -1},
			{Index: 1, Name: "build", Base: "mcr.microsoft.com/dotnet/sdk:8.0", Line: 10, EndLine: 17, Parent: -1, Args: []string{"BUILD_CONFIGURATION"}},
			{Index: 2, Name: "publish", Base: "build", Line: 20, EndLine: 23, Parent: 1, Args: []string{"BUILD_CONFIGURATION"}},
			{Index: 3, Name: "final", Base: "base", Line: 25, EndLine: 28, Parent: 0, CopiesFrom: []int{2}},
		},
		globalArgs: []string{"DOTNET"},
	}, {
		name: "copy from an index",
		src:  "FROM golang:1.22\nRUN go build -o /app .\nFROM scratch\nCOPY --from=0 /app /app\n",
		want: []Stage{
			{Index: 0, Base: "golang:1.22", Line: 1, EndLine: 2, Parent: -1},
			{Index: 1, Base: "scratch", Line: 3, EndLine: 4, Parent: -1, CopiesFrom: []int{0}},
		},
	}, {
		name: "run mount from a stage",
		src: `FROM node:20 AS deps
RUN npm ci
FROM node:20 AS build
RUN --mount=type=bind,from=deps,source=/node_modules,target=/src/node_modules \
    --mount=type=cache,target=/root/.npm npm run build
`,
		want: []Stage{
			{Index: 0, Name: "deps", Base: "node:20", Line: 1, EndLine: 2, Parent: -1},
			{Index: 1, Name: "build", Base: "node:20", Line: 3, EndLine: 5, Parent: -1, CopiesFrom: []int{0}},
		},
	}, {
		name: "images in --from are not stages",
		src: `FROM alpine AS tools
FROM debian:12 AS final
COPY --from=nginx:1.27 /etc/nginx /etc/nginx
COPY --from=busybox /bin/busybox /bin/
COPY --from=ghcr.io/org/tool@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef /tool /tool
RUN --mount=from=docker/buildx-bin,source=/buildx,target=/buildx /buildx version
COPY --from=tools /sbin/apk /sbin/
`,
		want: []Stage{
			{Index: 0, Name: "tools", Base: "alpine", Line: 1, EndLine: 1, Parent: -1},
			{Index: 1, Name: "final", Base: "debian:12", Line: 2, EndLine: 7, Parent: -1, CopiesFrom: []int{0}, Images: []string{
				"nginx:1.27", "busybox", "ghcr.io/org/tool@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker/buildx-bin",
			}},
		},
	}, {
		name: "global args expand in FROM",
		src: `ARG SDK=8.0
ARG REGISTRY=mcr.microsoft.com
ARG IMAGE=${REGISTRY}/dotnet/sdk
ARG FROM_STAGE=build
ARG UNSET
FROM ${IMAGE}:${SDK} AS build
FROM ${FROM_STAGE} AS publish
FROM alpine:${TARGETARCH}${UNSET} AS final
COPY --from=publish /out /out
`,
		want: []Stage{
			{Index: 0, Name: "build", Base: "mcr.microsoft.com/dotnet/sdk:8.0", Line: 6, EndLine: 6, Parent: -1},
			{Index: 1, Name: "publish", Base: "build", Line: 7, EndLine: 7, Parent: 0},
			{Index: 2, Name: "final", Base: "alpine:${TARGETARCH}${UNSET}", Line: 8, EndLine: 9, Parent: -1, CopiesFrom: []int{1}},
		},
		globalArgs: []string{"SDK", "REGISTRY", "IMAGE", "FROM_STAGE", "UNSET"},
	}, {
		name: "build args override global args",
		src:  "ARG SDK=8.0\nARG BASE=scratch\nFROM sdk:${SDK} AS build\nFROM ${BASE}:${TARGETARCH}\nCOPY --from=build / /\n",
		opts: []ParseOption{WithBuildArgs(map[string]string{"SDK": "9.0", "TARGETARCH": "arm64", "BASE": "alpine", "NOT_DECLARED": "x"})},
		want: []Stage{
			{Index: 0, Name: "build", Base: "sdk:9.0", Line: 3, EndLine: 3, Parent: -1},
			{Index: 1, Base: "alpine:arm64", Line: 4, EndLine: 5, Parent: -1, CopiesFrom: []int{0}},
		},
		globalArgs: []string{"SDK", "BASE"},
	}, {
		name: "single stage",
		src:  "FROM alpine\nRUN echo hi\n",
		want: []Stage{{Index: 0, Base: "alpine", Line: 1, EndLine: 2, Parent: -1}},
	}, {
		name: "names are case-insensitive",
		src:  "FROM alpine AS Build\nFROM alpine AS final\nCOPY --from=BUILD /x /x\nRUN --mount=from=bUiLd,target=/b true\n",
		want: []Stage{
			{Index: 0, Name: "build", Base: "alpine", Line: 1, EndLine: 1, Parent: -1},
			{Index: 1, Name: "final", Base: "alpine", Line: 2, EndLine: 4, Parent: -1, CopiesFrom: []int{0}},
		},
	}, {
		name: "heredocs and parser directives",
		src: `# syntax=docker/dockerfile:1
# escape=\
FROM alpine AS build
RUN <<EOF
echo "FROM evil AS fake"
COPY --from=nowhere / /
EOF
COPY <<-EOT /etc/motd
	FROM nothing
	EOT
FROM alpine
COPY --from=build /etc/motd /etc/motd
`,
		want: []Stage{
			{Index: 0, Name: "build", Base: "alpine", Line: 3, EndLine: 10, Parent: -1},
			{Index: 1, Base: "alpine", Line: 11, EndLine: 12, Parent: -1, CopiesFrom: []int{0}},
		},
	}, {
		name: "empty continuation lines are a warning",
		src:  "FROM alpine\nRUN echo a \\\n\n    && echo b\n",
		want: []Stage{{Index: 0, Base: "alpine", Line: 1, EndLine: 4, Parent: -1}},
		warnings: []Error{
			{Line: 4, Msg: "Empty continuation line found in: RUN echo a     && echo b"},
		},
	}, {
		name: "check directive before a later instruction",
		src:  "FROM alpine AS build\n# check=skip=all\nFROM alpine\nCOPY --from=build / /\n",
		want: []Stage{
			{Index: 0, Name: "build", Base: "alpine", Line: 1, EndLine: 1, Parent: -1},
			{Index: 1, Base: "alpine", Line: 3, EndLine: 4, Parent: -1, CopiesFrom: []int{0}},
		},
	}, {
		name: "duplicate names: a reference means the last one",
		src:  "FROM alpine AS build\nFROM alpine AS build\nFROM alpine\nCOPY --from=build / /\n",
		want: []Stage{
			{Index: 0, Name: "build", Base: "alpine", Line: 1, EndLine: 1, Parent: -1},
			{Index: 1, Name: "build", Base: "alpine", Line: 2, EndLine: 2, Parent: -1},
			{Index: 2, Base: "alpine", Line: 3, EndLine: 4, Parent: -1, CopiesFrom: []int{1}},
		},
		warnings: []Error{
			{Line: 2, Msg: `stage name "build" is also used at line 1: references mean the last stage with that name`},
		},
	}, {
		name: "copy from a stage defined later",
		src:  "FROM alpine AS a\nCOPY --from=b /x /x\nRUN --mount=from=b,target=/b true\nFROM alpine AS b\nFROM alpine\nCOPY --from=0 /x /x\n",
		want: []Stage{
			{Index: 0, Name: "a", Base: "alpine", Line: 1, EndLine: 3, Parent: -1, CopiesFrom: []int{1}},
			{Index: 1, Name: "b", Base: "alpine", Line: 4, EndLine: 4, Parent: -1},
			{Index: 2, Base: "alpine", Line: 5, EndLine: 6, Parent: -1, CopiesFrom: []int{0}},
		},
	}, {
		name: "FROM the name of a later stage is the image",
		src:  "FROM publish AS final\nFROM alpine AS publish\n",
		want: []Stage{
			{Index: 0, Name: "final", Base: "publish", Line: 1, EndLine: 1, Parent: -1},
			{Index: 1, Name: "publish", Base: "alpine", Line: 2, EndLine: 2, Parent: -1},
		},
		warnings: []Error{{Line: 1, Msg: "FROM publish names the image publish, not stage publish defined later at line 2: a stage can only build on a stage defined before it"}},
	}, {
		name: "a stage named like its image is FROM the image",
		src:  "FROM golang AS golang\nRUN go version\n",
		want: []Stage{{Index: 0, Name: "golang", Base: "golang", Line: 1, EndLine: 2, Parent: -1}},
	}, {
		name: "CRLF line endings and a byte order mark",
		src:  "\xEF\xBB\xBFFROM alpine AS build\r\nRUN true\r\n\r\nFROM alpine\r\nCOPY --from=build / /\r\n",
		want: []Stage{
			{Index: 0, Name: "build", Base: "alpine", Line: 1, EndLine: 2, Parent: -1},
			{Index: 1, Base: "alpine", Line: 4, EndLine: 5, Parent: -1, CopiesFrom: []int{0}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := mustParseDockerfile(t, tt.src, tt.opts...)
			if diff := cmp.Diff(tt.want, d.Stages); diff != "" {
				t.Errorf("Stages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.globalArgs, d.GlobalArgs); diff != "" {
				t.Errorf("GlobalArgs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warnings, d.Warnings); diff != "" {
				t.Errorf("Warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDockerfileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		line int
		msg  string // a part of the message
	}{{
		name: "unknown instruction",
		src:  "FROM alpine\nRUN true\nFORM alpine\n",
		line: 3,
		msg:  "unknown instruction: FORM (did you mean FROM?)",
	}, {
		name: "instruction before FROM",
		src:  "ARG A=1\n\nRUN true\nFROM alpine\n",
		line: 3,
		msg:  "no build stage in current context",
	}, {
		name: "COPY without a destination",
		src:  "FROM alpine\n\nCOPY onlyone\n",
		line: 3,
		msg:  "COPY requires at least two arguments",
	}, {
		name: "invalid stage name",
		src:  "FROM alpine AS 1build\n",
		line: 1,
		msg:  `invalid name for build stage: "1build"`,
	}, {
		name: "unterminated heredoc",
		src:  "FROM alpine\nRUN <<EOF\necho hi\n",
		line: 2,
		msg:  "unterminated heredoc",
	}, {
		name: "no instructions",
		src:  "# just a comment\n",
		line: 1,
		msg:  "file with no instructions",
	}, {
		name: "only global args",
		src:  "ARG A=1\n",
		line: 1,
		msg:  "no FROM instruction",
	}, {
		name: "mistyped stage in COPY --from",
		src:  dotnetDockerfile[:strings.Index(dotnetDockerfile, "COPY --from=build")] + "COPY --from=biuld /app/out .\n",
		line: 8,
		msg:  `COPY --from=biuld: unknown stage "biuld" (did you mean build?); to read from an image, give it a tag, such as biuld:latest`,
	}, {
		name: "mistyped stage in RUN --mount",
		src:  "FROM alpine AS deps\nFROM alpine\nRUN --mount=from=dep,target=/d true\n",
		line: 3,
		msg:  `RUN --mount=from=dep: unknown stage "dep" (did you mean deps?)`,
	}, {
		name: "COPY --from itself",
		src:  "FROM alpine AS a\nFROM alpine AS b\n\nCOPY --from=B /x /x\n",
		line: 4,
		msg:  "COPY --from=B: a stage cannot read files from itself",
	}, {
		name: "COPY --from an index out of range",
		src:  "FROM alpine\nFROM alpine\nCOPY --from=7 /x /x\n",
		line: 3,
		msg:  "COPY --from=7: there is no stage 7; stages are numbered 0 to 1",
	}, {
		name: "RUN --mount from a stage number",
		src:  "FROM alpine\nFROM alpine\nRUN --mount=from=0,target=/s true\n",
		line: 3,
		msg:  "BuildKit does not resolve stage numbers in --mount",
	}, {
		name: "variable in COPY --from",
		src:  "ARG S=build\nFROM alpine AS build\nFROM alpine\nCOPY --from=$S /x /x\n",
		line: 4,
		msg:  "variable expansion is not supported for --from",
	}, {
		name: "FROM a stage with other letter case",
		src:  "FROM alpine AS build\nFROM Build AS publish\n",
		line: 2,
		msg:  "FROM Build: BuildKit matches stage names in FROM exactly",
	}, {
		name: "FROM blank after expansion",
		src:  "ARG BASE=\nFROM $BASE\n",
		line: 2,
		msg:  "the base name is blank",
	}, {
		name: "bad substitution in FROM",
		src:  "FROM alpine:${\n",
		line: 1,
		msg:  "expanding FROM",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(strings.NewReader(tt.src))
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("Parse error = %v (%T), want a *Error", err, err)
			}
			if got, want := de.Line, tt.line; got != want {
				t.Errorf("Line = %d, want %d (%v)", got, want, err)
			}
			if !strings.Contains(de.Msg, tt.msg) {
				t.Errorf("Msg = %q, want it to contain %q", de.Msg, tt.msg)
			}
			if got, want := err.Error(), fmt.Sprintf("line %d: ", tt.line); !strings.HasPrefix(got, want) {
				t.Errorf("Error() = %q, want prefix %q", got, want)
			}
		})
	}
}

func TestBuildStageFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		src        string
		target     string // "" for the last stage
		want       string // the build stage's name or index; "" for none
		candidates []string
	}{{
		name:       "dotnet: the stage the runtime copies from",
		src:        dotnetDockerfile,
		want:       "build",
		candidates: []string{"build"},
	}, {
		name:       "visual studio: publish, built FROM build",
		src:        vsDockerfile,
		want:       "publish",
		candidates: []string{"publish"},
	}, {
		name:       "the target copies nothing but its parent does",
		src:        "FROM sdk AS build\nFROM runtime AS base\nCOPY --from=build /out /app\nFROM base AS final\nENV A=1\n",
		want:       "build",
		candidates: []string{"build"},
	}, {
		name:       "several stages copied from: the latest wins",
		src:        "FROM sdk AS build\nFROM node AS assets\nFROM runtime\nCOPY --from=assets /dist /www\nCOPY --from=build /out /app\n",
		want:       "assets",
		candidates: []string{"build", "assets"},
	}, {
		name:       "a named target",
		src:        vsDockerfile,
		target:     "publish",
		want:       "",
		candidates: nil,
	}, {
		name:       "by index",
		src:        "FROM sdk\nRUN make\nFROM scratch\nCOPY --from=0 /out /\n",
		want:       "0",
		candidates: []string{"0"},
	}, {
		name: "single stage",
		src:  "FROM alpine\nRUN true\n",
		want: "",
	}, {
		name: "copies only from images",
		src:  "FROM alpine AS a\nFROM alpine\nCOPY --from=nginx:1 /x /x\n",
		want: "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := mustParseDockerfile(t, tt.src)
			target := d.Last()
			if tt.target != "" {
				var err error
				if target, err = d.Stage(tt.target); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := d.BuildStageFor(target)
			if ok != (tt.want != "") {
				t.Fatalf("BuildStageFor ok = %v, want %v", ok, tt.want != "")
			}
			if ok {
				if got, want := got.Ref(), tt.want; got != want {
					t.Errorf("BuildStageFor = %s, want %s", got, want)
				}
			}
			var names []string
			for _, s := range d.BuildStageCandidates(target) {
				names = append(names, s.Ref())
			}
			if diff := cmp.Diff(tt.candidates, names); diff != "" {
				t.Errorf("BuildStageCandidates (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDockerfileStage(t *testing.T) {
	t.Parallel()
	d := mustParseDockerfile(t, vsDockerfile)
	tests := []struct {
		name  string
		ref   string
		index int    // when found
		err   string // a part of the error, when not
	}{
		{name: "by name", ref: "build", index: 1},
		{name: "case-insensitive", ref: "PubLish", index: 2},
		{name: "by index", ref: "0", index: 0},
		{name: "the last by index", ref: "3", index: 3},
		{name: "unknown name", ref: "runtime", err: `stage "runtime" not found in the Dockerfile: its stages are base, build, publish, final, or a number from 0 to 3`},
		{name: "mistyped name", ref: "biuld", err: `stage "biuld" not found in the Dockerfile (did you mean build?)`},
		{name: "index out of range", ref: "4", err: `stage "4" not found`},
		{name: "negative index", ref: "-1", err: `stage "-1" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := d.Stage(tt.ref)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Stage(%q) error = %v, want it to contain %q", tt.ref, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Stage(%q): %v", tt.ref, err)
			}
			if got, want := s.Index, tt.index; got != want {
				t.Errorf("Stage(%q).Index = %d, want %d", tt.ref, got, want)
			}
			if s != &d.Stages[tt.index] {
				t.Errorf("Stage(%q) does not point into Stages", tt.ref)
			}
		})
	}

	unnamed := mustParseDockerfile(t, "FROM a\nFROM b\n")
	if _, err := unnamed.Stage("x"); err == nil || !strings.Contains(err.Error(), "its stages are unnamed, numbered 0 to 1") {
		t.Errorf("Stage(x) on unnamed stages: error = %v", err)
	}
	if got, want := unnamed.Last().Base, "b"; got != want {
		t.Errorf("Last().Base = %q, want %q", got, want)
	}
}

func TestDockerfileSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   string
		stage string
	}{
		{name: "dotnet-build", src: dotnetDockerfile, stage: "build"},
		{name: "dotnet-final", src: dotnetDockerfile, stage: "1"},
		{name: "vs-publish", src: vsDockerfile, stage: "publish"},
		{name: "vs-final", src: vsDockerfile, stage: "final"},
		{name: "heredoc", src: "# syntax=docker/dockerfile:1\nARG V=1\nFROM alpine AS build\n\n# a comment\nRUN <<EOF\n  echo $V\n\nEOF\nFROM alpine AS other\nRUN true\nFROM alpine\nCOPY --from=build / /\n", stage: "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := mustParseDockerfile(t, tt.src)
			s, err := d.Stage(tt.stage)
			if err != nil {
				t.Fatal(err)
			}
			got := d.Source(s)
			golden := filepath.Join("testdata", "source", tt.name+".golden")
			if *updateSourceGolden {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (run with -update-source-golden to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Source(%s) (-want +got):\n%s", tt.stage, diff)
			}
		})
	}
}

// The build stage's source holds what its layers depend on, and only that:
// the visual studio publish stage includes build (its parent) and not base.
func TestDockerfileSourceDependencies(t *testing.T) {
	t.Parallel()
	d := mustParseDockerfile(t, vsDockerfile)
	publish, err := d.Stage("publish")
	if err != nil {
		t.Fatal(err)
	}
	src := d.Source(publish)
	for _, want := range []string{
		"ARG DOTNET=8.0",
		"FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:${DOTNET} AS build",
		`RUN dotnet restore "./MyApp/MyApp.csproj"`,
		"FROM build AS publish",
		"    -o /app/publish /p:UseAppHost=false",
	} {
		if !strings.Contains(src, want+"\n") {
			t.Errorf("Source(publish) lacks line %q", want)
		}
	}
	for _, unwanted := range []string{"AS base", "EXPOSE 8080", "AS final", "# This stage"} {
		if strings.Contains(src, unwanted) {
			t.Errorf("Source(publish) holds %q", unwanted)
		}
	}

	// Editing the runtime stage leaves the build stage's source alone.
	edited := mustParseDockerfile(t, strings.Replace(vsDockerfile, "EXPOSE 8080", "EXPOSE 8081", 1))
	editedPublish, err := edited.Stage("publish")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := edited.Source(editedPublish), src; got != want {
		t.Errorf("Source(publish) changed with the base stage:\n%s", cmp.Diff(want, got))
	}
}
