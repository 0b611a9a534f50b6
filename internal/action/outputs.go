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
	// Platforms are an index's images, one a platform. Only in metadata.
	Platforms []Platform `json:"platforms,omitempty"`
}

// Platform is one platform's image of an index.
type Platform struct {
	Platform  string `json:"platform"` // os/arch[/variant]
	Digest    string `json:"digest"`
	SizeBytes int64  `json:"size-bytes"` // compressed, as the registry counts it
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

// fact is one line of the summary's table: a label and its value, shown
// as code where code is set.
type fact struct {
	label, value string
	code         bool
}

// facts are what the summary says of the image, in order: the same in every
// format.
func (s Summary) facts() []fact {
	var fs []fact
	add := func(label, value string, code bool) {
		if value != "" {
			fs = append(fs, fact{label, value, code})
		}
	}
	if s.Pushed {
		add("Image", s.ImageURI, true)
		add("Digest", s.Digest, true)
		add("Registry", s.Registry, false)
	}
	add("Image id", s.ImageID, true)
	if s.ImageSizeBytes > 0 {
		add("Size (compressed, as ECR counts)", FormatSize(s.ImageSizeBytes), false)
	}
	if s.UncompressedSizeBytes > 0 {
		add("Runtime image, uncompressed", fmt.Sprintf("%s (%s)", FormatSize(s.UncompressedSizeBytes), stageLabel(s.Target)), false)
	}
	if s.BuildStageSizeBytes > 0 {
		add("Build stage, uncompressed", fmt.Sprintf("%s (%s)", FormatSize(s.BuildStageSizeBytes), stageLabel(s.BuildStage)), false)
		if s.UncompressedSizeBytes > 0 && s.BuildStageSizeBytes > s.UncompressedSizeBytes {
			saved := s.BuildStageSizeBytes - s.UncompressedSizeBytes
			add("Saved by the multi-stage build", fmt.Sprintf("%s (%.0f%%)", FormatSize(saved), 100*float64(saved)/float64(s.BuildStageSizeBytes)), false)
		}
	}
	if s.CacheKey != "" {
		hit := "miss"
		if s.CacheHit {
			hit = "hit"
		}
		add("Build cache", hit+", key "+s.CacheKey, false)
	}
	if s.Skipped {
		add("Build", "skipped: an identical image was already in the repository", false)
	}
	return fs
}

// stageLabel names a stage in a sentence: "stage build", or for an unnamed
// one its place as the run gives it ("(the final stage)" reads "the final
// stage").
func stageLabel(title string) string {
	if t, ok := strings.CutPrefix(title, "("); ok {
		return strings.TrimSuffix(t, ")")
	}
	return "stage " + title
}

// Markdown renders the summary for a GitHub job summary.
func (s Summary) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", s.title())
	b.WriteString("| | |\n|---|---|\n")
	for _, f := range s.facts() {
		v := mdEscape(f.value)
		if f.code {
			v = "`" + v + "`"
		}
		fmt.Fprintf(&b, "| %s | %s |\n", f.label, v)
	}
	s.writeSize(&b)
	if len(s.Platforms) > 0 {
		b.WriteString("\n**Platforms**\n\n| platform | digest | size (compressed) |\n|---|---|---:|\n")
		for _, p := range s.Platforms {
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", mdEscape(p.Platform), mdEscape(p.Digest), FormatSize(p.SizeBytes))
		}
	}
	if len(s.Tags) > 0 {
		b.WriteString("\n**Tags**\n\n")
		for _, t := range s.Tags {
			fmt.Fprintf(&b, "- `%s`\n", t)
		}
	}
	if len(s.Timings) > 0 {
		b.WriteString("\n**Timings**\n\n| step | seconds |\n|---|---:|\n")
		for _, t := range s.Timings {
			fmt.Fprintf(&b, "| %s | %.2f |\n", mdEscape(t.Name), t.Duration.Seconds())
		}
	}
	return b.String()
}

func (s Summary) title() string {
	title := "ms-build: " + s.Repository
	if s.DryRun {
		title += " (dry run)"
	}
	return title
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Text renders the summary for a terminal or a job log: what Markdown
// shows, as indented label: value lines (the chart aside, whose figures
// are among the lines).
func (s Summary) Text() string {
	var b strings.Builder
	b.WriteString(s.title() + "\n")
	for _, f := range s.facts() {
		fmt.Fprintf(&b, "  %-33s %s\n", f.label+":", f.value)
	}
	s.writeSizeText(&b)
	if len(s.Platforms) > 0 {
		b.WriteString("Platforms\n")
		for _, p := range s.Platforms {
			fmt.Fprintf(&b, "  %-16s %s %10s\n", p.Platform, p.Digest, FormatSize(p.SizeBytes))
		}
	}
	if len(s.Tags) > 0 {
		b.WriteString("Tags\n")
		for _, t := range s.Tags {
			b.WriteString("  " + t + "\n")
		}
	}
	if len(s.Timings) > 0 {
		b.WriteString("Timings (seconds)\n")
		for _, t := range s.Timings {
			fmt.Fprintf(&b, "  %-52s %7.2f\n", t.Name, t.Duration.Seconds())
		}
	}
	return b.String()
}
