package action

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/org/ms-build-action/internal/pipeline"
)

// Outputs are the step's outputs (DESIGN.md section 2).
type Outputs struct {
	ImageURI              string   `json:"image-uri"`
	Digest                string   `json:"digest"`
	ImageID               string   `json:"image-id"`
	Tags                  []string `json:"tags"`
	ImageSizeBytes        int64    `json:"image-size-bytes"`
	ImageSize             string   `json:"image-size"`
	UncompressedSizeBytes int64    `json:"uncompressed-size-bytes"`
	BuildStageSizeBytes   int64    `json:"build-stage-size-bytes"`
	CacheKey              string   `json:"cache-key"`
	CacheHit              bool     `json:"cache-hit"`
	Skipped               bool     `json:"skipped"`
	Registry              string   `json:"registry"`
	// BuiltFrom is, on a skip, the revision that built the image the tags
	// were attached to: the image keeps naming that commit. Only in metadata.
	BuiltFrom string `json:"built-from,omitempty"`
	// ImageSizeDeltaBytes is the compressed size change against the
	// default branch's current image; nil when there is none.
	ImageSizeDeltaBytes *int64 `json:"image-size-delta-bytes,omitempty"`
}

// OutputNames lists the outputs in the order they are reported.
var OutputNames = []string{
	"image-uri", "digest", "image-id", "tags", "image-size-bytes", "image-size",
	"uncompressed-size-bytes", "build-stage-size-bytes", "cache-key", "cache-hit",
	"skipped", "registry", "image-size-delta-bytes", "metadata",
}

// Pair is one output's name and its value as text.
type Pair struct{ Name, Value string }

// Pairs renders every output as text, in OutputNames order; metadata is all
// of them as one JSON object. Sizes that are unknown (0) are left empty.
func (o Outputs) Pairs() []Pair {
	size := func(n int64) string {
		if n <= 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	if o.Tags == nil {
		o.Tags = []string{}
	}
	meta, _ := json.Marshal(o) // cannot fail: strings, numbers, booleans
	return []Pair{
		{"image-uri", o.ImageURI},
		{"digest", o.Digest},
		{"image-id", o.ImageID},
		{"tags", strings.Join(o.Tags, "\n")},
		{"image-size-bytes", size(o.ImageSizeBytes)},
		{"image-size", o.ImageSize},
		{"uncompressed-size-bytes", size(o.UncompressedSizeBytes)},
		{"build-stage-size-bytes", size(o.BuildStageSizeBytes)},
		{"cache-key", o.CacheKey},
		{"cache-hit", strconv.FormatBool(o.CacheHit)},
		{"skipped", strconv.FormatBool(o.Skipped)},
		{"registry", o.Registry},
		{"image-size-delta-bytes", delta(o.ImageSizeDeltaBytes)},
		{"metadata", string(meta)},
	}
}

// delta renders a size change: empty when there is none to tell.
func delta(n *int64) string {
	if n == nil {
		return ""
	}
	return strconv.FormatInt(*n, 10)
}

// Timing is how long one part of the run took.
type Timing struct {
	Name     string
	Duration time.Duration
}

// Summary is what the job summary shows.
type Summary struct {
	Outputs
	Repository string
	Target     string
	BuildStage string
	DryRun     bool
	Pushed     bool
	Timings    []Timing
	// SizeChange compares the image with the default branch's current
	// image; nil when there is none.
	SizeChange *pipeline.SizeChange
}

// Markdown renders the summary for a GitHub job summary.
func (s Summary) Markdown() string {
	var b strings.Builder
	title := "ms-build: " + s.Repository
	if s.DryRun {
		title += " (dry run)"
	}
	fmt.Fprintf(&b, "### %s\n\n", title)
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, mdEscape(v))
		}
	}
	if s.Pushed {
		row("Image", "`"+s.ImageURI+"`")
		row("Digest", "`"+s.Digest+"`")
	}
	row("Image id", "`"+s.ImageID+"`")
	if s.ImageSizeBytes > 0 {
		row("Size (compressed, as ECR counts)", FormatSize(s.ImageSizeBytes))
	}
	if s.UncompressedSizeBytes > 0 {
		row("Runtime image, uncompressed", fmt.Sprintf("%s (stage %s)", FormatSize(s.UncompressedSizeBytes), s.Target))
	}
	if s.BuildStageSizeBytes > 0 {
		row("Build stage, uncompressed", fmt.Sprintf("%s (stage %s)", FormatSize(s.BuildStageSizeBytes), s.BuildStage))
		if s.UncompressedSizeBytes > 0 && s.BuildStageSizeBytes > s.UncompressedSizeBytes {
			saved := s.BuildStageSizeBytes - s.UncompressedSizeBytes
			row("Saved by the multi-stage build", fmt.Sprintf("%s (%.0f%%)", FormatSize(saved), 100*float64(saved)/float64(s.BuildStageSizeBytes)))
		}
	}
	if s.CacheKey != "" {
		hit := "miss"
		if s.CacheHit {
			hit = "hit"
		}
		row("Build cache", fmt.Sprintf("%s, key `%s`", hit, s.CacheKey))
	}
	if s.Skipped {
		row("Build", "skipped: an identical image was already in the repository")
	}
	s.writeSize(&b)
	if len(s.Tags) > 0 {
		b.WriteString("\n**Tags**\n\n")
		for _, t := range s.Tags {
			fmt.Fprintf(&b, "- `%s`\n", t)
		}
	}
	if len(s.Timings) > 0 {
		b.WriteString("\n**Timings**\n\n| step | seconds |\n|---|---:|\n")
		for _, t := range s.Timings {
			fmt.Fprintf(&b, "| %s | %.1f |\n", t.Name, t.Duration.Seconds())
		}
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Text renders the summary as aligned name: value lines, for a terminal or a
// job log; with timings when withTimings is set.
func (s Summary) Text(withTimings bool) string {
	var b strings.Builder
	for _, kv := range s.Pairs() {
		if kv.Name == "metadata" || kv.Value == "" {
			continue
		}
		fmt.Fprintf(&b, "%-24s %s\n", kv.Name+":", strings.ReplaceAll(kv.Value, "\n", " "))
	}
	if withTimings {
		for _, t := range s.Timings {
			fmt.Fprintf(&b, "%-24s %.1fs\n", "time, "+t.Name+":", t.Duration.Seconds())
		}
	}
	return b.String()
}
