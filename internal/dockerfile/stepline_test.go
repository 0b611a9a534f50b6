package dockerfile

import (
	"strings"
	"testing"
)

func TestStepLine(t *testing.T) {
	t.Parallel()
	d, err := Parse(strings.NewReader(`ARG SDK=golang:1.26
FROM ${SDK} AS build
ENV CGO_ENABLED=0
WORKDIR /src
COPY go.mod ./
RUN go mod download
COPY . .
RUN go build -o /out/app .

FROM build AS test
RUN go test ./...

FROM scratch
COPY --from=build /out/app /app
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		step string
		line int
	}{
		{"[build 1/6] FROM docker.io/library/golang:1.26", 2},
		{"[build 2/6] WORKDIR /src", 4},
		{"[build 4/6] RUN go mod download", 6},
		{"[build 6/6] RUN go build -o /out/app .", 8},
		{"[test 1/1] RUN go test ./...", 11},
		{"[stage-2 1/1] COPY --from=build /out/app /app", 14},
		{"exporting to image", 0},
		{"[nosuch 1/1] RUN x", 0},
		{"[build 9/6] RUN x", 0},
	} {
		got, ok := d.StepLine(tc.step)
		if got != tc.line || ok != (tc.line != 0) {
			t.Errorf("StepLine(%q) = %d, %v; want %d", tc.step, got, ok, tc.line)
		}
	}
}

func TestStepStage(t *testing.T) {
	t.Parallel()
	d, err := Parse(strings.NewReader(`FROM base AS build
COPY go.mod ./
RUN go build

FROM base
COPY --from=build /out /out
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		step  string
		stage string // "" for none
		last  bool
	}{
		{"[build 1/3] FROM docker.io/library/base", "build", false},
		{"[build 3/3] RUN go build", "build", true},
		{"[stage-1 2/2] COPY --from=build /out /out", "1", true},
		{"[nosuch 1/1] RUN x", "", false},
		{"exporting to image", "", false},
	} {
		s, last := d.StepStage(tc.step)
		got := ""
		if s != nil {
			got = s.Ref()
		}
		if got != tc.stage || last != tc.last {
			t.Errorf("StepStage(%q) = %q, %v; want %q, %v", tc.step, got, last, tc.stage, tc.last)
		}
	}
}

func TestTitle(t *testing.T) {
	t.Parallel()
	d, err := Parse(strings.NewReader("FROM base\nRUN a\nFROM base AS build\nRUN b\nFROM base\nCOPY --from=build /x /x\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"(stage 0)", "build", "(the final stage)"} {
		if got := d.Title(&d.Stages[i]); got != want {
			t.Errorf("Title(stage %d) = %q, want %q", i, got, want)
		}
	}
}
