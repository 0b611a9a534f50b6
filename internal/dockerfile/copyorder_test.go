package dockerfile

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWholeContextCopy proves which copies of the whole context before a RUN
// are found, in the stage and its parents, and which forms are left alone.
func TestWholeContextCopy(t *testing.T) {
	t.Parallel()
	type result struct {
		Copy, Run int
		OK        bool
	}
	tests := []struct {
		name  string
		src   string
		stage string // "" is the first stage
		want  result
	}{{
		name: "dotnet seed",
		src: `FROM sdk AS build
WORKDIR /app
COPY . .
RUN dotnet publish -c Release -o out
`,
		want: result{Copy: 3, Run: 4, OK: true},
	}, {
		name:  "dotnet seed, two stages, build stage",
		src:   dotnetDockerfile,
		stage: "build",
		want:  result{Copy: 3, Run: 4, OK: true},
	}, {
		name:  "dotnet seed, two stages, runtime stage",
		src:   dotnetDockerfile,
		stage: "1",
	}, {
		name: "cache-friendly form",
		src: `FROM sdk AS build
WORKDIR /src
COPY *.sln ./
COPY src/App/App.csproj src/App/
RUN dotnet restore
COPY . .
RUN dotnet publish -c Release -o /app/out --no-restore
`,
	}, {
		name:  "Visual Studio layout, build stage",
		src:   vsDockerfile,
		stage: "build",
	}, {
		name:  "Visual Studio layout, publish stage built on build",
		src:   vsDockerfile,
		stage: "publish",
	}, {
		name: "COPY --from a stage is not the context",
		src: `FROM sdk AS x
RUN mkdir /out
FROM sdk AS build
COPY --from=x . .
RUN dotnet publish
`,
		stage: "build",
	}, {
		name: "COPY --from an image is not the context",
		src: `FROM sdk AS build
COPY --from=alpine:3.20 / /rootfs
RUN dotnet publish
`,
	}, {
		name: "COPY . . after the last RUN",
		src: `FROM node:22 AS build
RUN npm install -g pnpm
COPY . .
`,
	}, {
		name: "RUN before the copy only",
		src: `FROM sdk AS build
RUN apt-get update && apt-get install -y clang
COPY . .
RUN dotnet publish
`,
		want: result{Copy: 3, Run: 4, OK: true},
	}, {
		name: "narrow copy then whole copy before any RUN",
		src: `FROM golang:1.26 AS build
COPY go.mod go.sum ./
COPY . .
RUN go mod download
RUN go build ./...
`,
		want: result{Copy: 3, Run: 4, OK: true},
	}, {
		name: "in the parent of the build stage",
		src: `FROM sdk AS base
WORKDIR /src
COPY . .
FROM base AS build
ENV CONFIG=Release
RUN dotnet publish
FROM aspnet
COPY --from=build /app .
`,
		stage: "build",
		want:  result{Copy: 3, Run: 6, OK: true},
	}, {
		name: "in the grandparent, RUN in the parent",
		src: `FROM sdk AS base
COPY . /src
FROM base AS restore
RUN dotnet restore /src
FROM restore AS build
RUN dotnet publish /src
`,
		stage: "build",
		want:  result{Copy: 2, Run: 4, OK: true},
	}, {
		name: "restore in the parent, whole copy in the build stage",
		src: `FROM golang:1.26 AS deps
COPY go.mod go.sum ./
RUN go mod download
FROM deps AS build
COPY . .
RUN go build ./...
`,
		stage: "build",
	}, {
		name: "a sibling stage is not in the chain",
		src: `FROM sdk AS other
COPY . .
RUN make
FROM sdk AS build
COPY src/ /src/
RUN make -C /src
`,
		stage: "build",
	}, {
		name: "ADD . /src",
		src: `FROM sdk AS build
ADD . /src
RUN make -C /src
`,
		want: result{Copy: 2, Run: 3, OK: true},
	}, {
		name: "COPY ./ /app/",
		src: `FROM sdk AS build
COPY ./ /app/
RUN make -C /app
`,
		want: result{Copy: 2, Run: 3, OK: true},
	}, {
		name: "COPY src/ /src/",
		src: `FROM sdk AS build
COPY src/ /src/
RUN make -C /src
`,
	}, {
		name: "COPY *.csproj",
		src: `FROM sdk AS build
COPY *.csproj ./
RUN dotnet restore
`,
	}, {
		name: "COPY * ./",
		src: `FROM sdk AS build
COPY * ./
RUN make
`,
		want: result{Copy: 2, Run: 3, OK: true},
	}, {
		name: "COPY ./* and flags",
		src: `FROM sdk AS build
COPY --chown=app:app --chmod=755 --link ./* /app/
RUN make
`,
		want: result{Copy: 2, Run: 3, OK: true},
	}, {
		name: "JSON form",
		src: `FROM sdk AS build
COPY [".", "/app"]
RUN make
`,
		want: result{Copy: 2, Run: 3, OK: true},
	}, {
		name: "whole context among other sources",
		src: `FROM sdk AS build
COPY src ./ /app/
RUN make
`,
		want: result{Copy: 2, Run: 3, OK: true},
	}, {
		name: "COPY / copies the whole context",
		src: `FROM sdk AS build
COPY / /app
RUN make
`,
		want: result{Copy: 2, Run: 3, OK: true},
	}, {
		name: "--exclude narrows the copy",
		src: `FROM sdk AS build
COPY --exclude=**/*.cs . .
RUN dotnet restore
COPY . .
RUN dotnet publish
`,
	}, {
		name: "variable source is not known to be whole",
		src: `FROM sdk AS build
ARG SRC=.
COPY $SRC /app
RUN make
`,
	}, {
		name: "ADD of a URL is not the context",
		src: `FROM sdk AS build
ADD https://example.com/tool.tar.gz /opt/
RUN tar -C /opt -xzf /opt/tool.tar.gz
COPY . .
RUN make
`,
		want: result{Copy: 4, Run: 5, OK: true},
	}, {
		name: "heredoc is not the context",
		src: `FROM sdk AS build
COPY <<CONF /etc/app.conf
x = 1
CONF
RUN cat /etc/app.conf
COPY . .
RUN make
`,
		want: result{Copy: 6, Run: 7, OK: true},
	}, {
		name: "restore from bind-mounted dependency files",
		src: `FROM golang:1.26 AS build
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=bind,source=go.mod,target=go.mod \
    go mod download
COPY . .
RUN go build -o /out/app .
`,
	}, {
		name: "whole context bind mount is not a restore from dependency files",
		src: `FROM golang:1.26 AS build
RUN --mount=type=bind,target=/src go version
COPY . .
RUN go build -o /out/app .
`,
		want: result{Copy: 3, Run: 4, OK: true},
	}, {
		name: "cache mount alone is not a restore from dependency files",
		src: `FROM sdk AS build
RUN --mount=type=cache,target=/root/.nuget/packages dotnet --info
COPY . .
RUN dotnet publish
`,
		want: result{Copy: 3, Run: 4, OK: true},
	}, {
		name: "bind mount from another stage is not the context",
		src: `FROM sdk AS tools
RUN mkdir /tools
FROM sdk AS build
RUN --mount=type=bind,from=tools,source=/tools,target=/t ls /t
COPY . .
RUN make
`,
		stage: "build",
		want:  result{Copy: 5, Run: 6, OK: true},
	}, {
		name: "lines counted with comments, continuations and a parser directive",
		src:  "# syntax=docker/dockerfile:1\n# escape=`\n\nFROM sdk AS build\n# copy everything\nCOPY `\n  . `\n  /src\n\nRUN dotnet `\n  publish\n",
		want: result{Copy: 6, Run: 10, OK: true},
	}, {
		name: "CRLF line endings",
		src:  "FROM sdk AS build\r\nWORKDIR /app\r\nCOPY . .\r\nRUN make\r\n",
		want: result{Copy: 3, Run: 4, OK: true},
	}, {
		name: "unnamed stage",
		src: `FROM sdk
COPY . .
RUN make
`,
		stage: "0",
		want:  result{Copy: 2, Run: 3, OK: true},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := mustParseDockerfile(t, tt.src)
			s := &d.Stages[0]
			if tt.stage != "" {
				var err error
				if s, err = d.Stage(tt.stage); err != nil {
					t.Fatal(err)
				}
			}
			var got result
			got.Copy, got.Run, got.OK = d.WholeContextCopy(s)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("WholeContextCopy(%s) (-want +got):\n%s", s.Ref(), diff)
			}
		})
	}
}

// TestWholeContextCopyNoSource proves that a Dockerfile value not parsed
// from a source, or a stage it does not hold, finds nothing.
func TestWholeContextCopyNoSource(t *testing.T) {
	t.Parallel()
	d := mustParseDockerfile(t, dotnetDockerfile)
	tests := []struct {
		name string
		d    *Dockerfile
		s    *Stage
	}{
		{name: "zero Dockerfile", d: &Dockerfile{Stages: []Stage{{Parent: -1}}}, s: &Stage{Parent: -1}},
		{name: "nil stage", d: d, s: nil},
		{name: "stage out of range", d: d, s: &Stage{Index: 7, Parent: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if c, r, ok := tt.d.WholeContextCopy(tt.s); ok {
				t.Errorf("WholeContextCopy = %d, %d, true; want false", c, r)
			}
		})
	}
}
