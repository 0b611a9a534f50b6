package action

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/org/ms-build-action/internal/pipeline"
)

// hostileCreatedBy is what a Dockerfile or a base image may put in a
// layer's created_by: a newline, a pipe that would end the table cell,
// backticks, HTML, a link, a mention, a workflow command and a long tail.
const hostileCreatedBy = "RUN echo `a|b` <img src=x onerror=alert(1)>\n| forged | row |\n::error::x [link](https://evil.example) @org/team *bold* " +
	"and a very long tail that goes on and on and on and on and on and on and on and on and on and on and on and on"

func sizeSample() Summary {
	s := sample
	d := int64(6_850_000)
	s.ImageSizeDeltaBytes = &d
	s.SizeChange = &pipeline.SizeChange{
		Base: "the main|`x` branch's last build", BaseRef: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@sha256:3333333333333333333333333333333333333333333333333333333333333333",
		BaseSize: 80_450_000, DeltaBytes: d,
		Layers: []pipeline.LayerChange{
			{CreatedBy: hostileCreatedBy, After: 6_000_000, Kind: pipeline.LayerAdded},
			{CreatedBy: "RUN make", Before: 4_000_000, After: 5_000_000, Kind: pipeline.LayerGrown},
			{CreatedBy: "", Before: 150_000, Kind: pipeline.LayerRemoved},
		},
	}
	return s
}

// TestSizeSummary: the size section shows the change, the layers that
// changed most and the chart; created_by text cannot break out of its
// table cell.
func TestSizeSummary(t *testing.T) {
	t.Parallel()
	md := sizeSample().Markdown()
	golden(t, "size.summary.md", md)
	// Every table row has the cells of its header: nothing ended a cell or
	// a row early.
	var rows []string
	for l := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(l, "| ") && strings.Contains(l, "created by") || strings.HasPrefix(l, "| added") || strings.HasPrefix(l, "| grown") || strings.HasPrefix(l, "| removed") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 4 {
		t.Fatalf("want the layer table's header and 3 rows, got %q", rows)
	}
	unescapedPipe := regexp.MustCompile(`\|`)
	for _, r := range rows {
		if n := len(unescapedPipe.FindAllString(r, -1)); n != 5 {
			t.Errorf("row %q has %d pipes, want 5", r, n)
		}
	}
	for _, bad := range []string{"<img", "`a", "[link]", "::error", "@org", "*bold*", "\n| forged"} {
		if strings.Contains(md, bad) {
			t.Errorf("the summary holds %q as Markdown would act on it", bad)
		}
	}
	if !strings.Contains(md, "```mermaid\nxychart-beta\n") || !strings.Contains(md, "bar [210.0, 1400.0]") {
		t.Errorf("no chart of the runtime image against the build stage:\n%s", md)
	}
}

func TestSizeDeltaOutput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		delta *int64
		want  string
		json  string
	}{
		{"none", nil, "", ""},
		{"grew", ptr(int64(1234)), "1234", `"image-size-delta-bytes":1234`},
		{"same", ptr(int64(0)), "0", `"image-size-delta-bytes":0`},
		{"shrank", ptr(int64(-99)), "-99", `"image-size-delta-bytes":-99`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := sample.Outputs
			o.ImageSizeDeltaBytes = tc.delta
			got := map[string]string{}
			for _, p := range o.Pairs() {
				got[p.Name] = p.Value
			}
			if got["image-size-delta-bytes"] != tc.want {
				t.Errorf("image-size-delta-bytes = %q, want %q", got["image-size-delta-bytes"], tc.want)
			}
			if tc.json == "" && strings.Contains(got["metadata"], "image-size-delta-bytes") || !strings.Contains(got["metadata"], tc.json) {
				t.Errorf("metadata %s, want %q in it", got["metadata"], tc.json)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestMaxImageGrowth: a size or a percentage, more than 0; anything else is
// one line naming the input.
func TestMaxImageGrowth(t *testing.T) {
	t.Parallel()
	base := map[string]string{"repository": "team/app", "aws-region": "us-east-1", "tags": "v1"}
	for _, tc := range []struct {
		value string
		want  pipeline.Growth
	}{
		{"10MB", pipeline.Growth{Bytes: 10_000_000}},
		{"1.5 MiB", pipeline.Growth{Bytes: 1_572_864}},
		{"5%", pipeline.Growth{Percent: 5}},
		{" 2.5 % ", pipeline.Growth{Percent: 2.5}},
	} {
		in, err := Parse(Merge(base, map[string]string{"max-image-growth": tc.value}), Environment{CI: CI{Provider: GitHub}})
		if err != nil {
			t.Errorf("Parse(%q) = %v", tc.value, err)
			continue
		}
		if in.MaxImageGrowth != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.value, in.MaxImageGrowth, tc.want)
		}
	}
	for _, bad := range []string{"big", "0", "0%", "-5%", "5%%", "%", "1e3%", "NaN%", "Inf%", "10XB", "5%\n::error::forged", "50%\r\x1b[31m", strings.Repeat("9", 400) + "%"} {
		_, err := Parse(Merge(base, map[string]string{"max-image-growth": bad}), Environment{CI: CI{Provider: GitHub}})
		var ie *InputError
		if !errors.As(err, &ie) || ie.Input != "max-image-growth" {
			t.Errorf("Parse(%q) = %v, want an input error naming max-image-growth", bad, err)
			continue
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\n\r\x1b") || !strings.Contains(msg, "10MB") || !strings.Contains(msg, "5%") {
			t.Errorf("Parse(%q) = %q, want one line saying what is accepted", bad, msg)
		}
	}
}

// TestOneSummary: the job summary (GitHub), the job log's (GitLab) and the
// terminal's say the same things: every fact, the size change and its
// layers, every tag and every timing.
func TestOneSummary(t *testing.T) {
	t.Parallel()
	s := sizeSample()
	s.CacheKey, s.CacheHit, s.Skipped = "6a75ed1a575c06b405caa89855ef1d7a332fd15f87a3e87db59cd156ba5b2e73", true, true
	s.Timings = []Timing{{"runtime stage (the final stage)", time.Second}, {"build cache store (beside the runtime build)", 2 * time.Second}, {"total", 3 * time.Second}}
	md, text := s.Markdown(), s.Text()
	var want []string
	for _, f := range s.facts() {
		want = append(want, f.label, f.value)
	}
	want = append(want, s.Tags...)
	for _, tm := range s.Timings {
		want = append(want, tm.Name)
	}
	want = append(want, "Size against the default branch", signed(s.SizeChange.DeltaBytes))
	for _, l := range s.SizeChange.Layers {
		want = append(want, string(l.Kind), signed(l.After-l.Before))
	}
	for _, w := range want {
		if !strings.Contains(md, w) {
			t.Errorf("the Markdown summary lacks %q", w)
		}
		if !strings.Contains(text, w) {
			t.Errorf("the text summary lacks %q", w)
		}
	}
}

func TestStageLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"build": "stage build", "(the final stage)": "the final stage", "(stage 0)": "stage 0"} {
		if got := stageLabel(in); got != want {
			t.Errorf("stageLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
