package action

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/org/ms-build-action/internal/pipeline"
)

// writeSize writes the image's size against the default branch's current
// image, the layers that changed most, and a chart of the runtime image
// against the build stage (GitHub renders Mermaid in job summaries).
// created_by text comes from the repository's Dockerfile and base images:
// it goes through mdText.
func (s Summary) writeSize(b *strings.Builder) {
	if c := s.SizeChange; c != nil {
		b.WriteString("\n**Size against the default branch**\n\n| | |\n|---|---|\n")
		// BaseRef is the run's own: the registry's host, the repository
		// input (validated) and a digest.
		fmt.Fprintf(b, "| Compared with | `%s` (%s) |\n", mdEscape(c.BaseRef), mdText(c.Base))
		fmt.Fprintf(b, "| Change | %s%s: %s → %s |\n", signed(c.DeltaBytes), percentOf(c.DeltaBytes, c.BaseSize), FormatSize(c.BaseSize), FormatSize(c.BaseSize+c.DeltaBytes))
		if len(c.Layers) > 0 {
			b.WriteString("\n| layer (created by) | change | before | after |\n|---|---:|---:|---:|\n")
			for _, l := range c.Layers {
				by := "(no history)"
				if l.CreatedBy != "" {
					by = mdText(l.CreatedBy)
				}
				fmt.Fprintf(b, "| %s: %s | %s | %s | %s |\n", l.Kind, by, signed(l.After-l.Before), sizeOrNone(l.Before, l.Kind == pipeline.LayerAdded), sizeOrNone(l.After, l.Kind == pipeline.LayerRemoved))
			}
		}
	}
	if s.UncompressedSizeBytes > 0 && s.BuildStageSizeBytes > 0 {
		// Only numbers and our own labels: nothing from the repository.
		fmt.Fprintf(b, "\n```mermaid\nxychart-beta\n    title \"Uncompressed size (MB)\"\n    x-axis [\"runtime\", \"build stage\"]\n    y-axis \"MB\"\n    bar [%.1f, %.1f]\n```\n",
			float64(s.UncompressedSizeBytes)/1e6, float64(s.BuildStageSizeBytes)/1e6)
	}
}

// writeSizeText is writeSize for a terminal or a job log.
func (s Summary) writeSizeText(b *strings.Builder) {
	c := s.SizeChange
	if c == nil {
		return
	}
	b.WriteString("Size against the default branch\n")
	fmt.Fprintf(b, "  %-33s %s (%s)\n", "Compared with:", c.BaseRef, oneLine(c.Base))
	fmt.Fprintf(b, "  %-33s %s%s: %s -> %s\n", "Change:", signed(c.DeltaBytes), percentOf(c.DeltaBytes, c.BaseSize), FormatSize(c.BaseSize), FormatSize(c.BaseSize+c.DeltaBytes))
	for _, l := range c.Layers {
		by := "(no history)"
		if l.CreatedBy != "" {
			by = ellipsize(oneLine(l.CreatedBy))
		}
		fmt.Fprintf(b, "  %-9s %s: %s\n", signed(l.After-l.Before), l.Kind, by)
	}
}

func signed(n int64) string {
	if n < 0 {
		return "-" + FormatSize(-n)
	}
	return "+" + FormatSize(n)
}

func percentOf(n, base int64) string {
	if base <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%+.1f%%)", 100*float64(n)/float64(base))
}

func sizeOrNone(n int64, none bool) string {
	if none {
		return "–"
	}
	return FormatSize(n)
}

// mdTextMax is how many characters of a repository's text a summary shows.
const mdTextMax = 120

// ellipsize shortens s to mdTextMax characters, the last an ellipsis.
func ellipsize(s string) string {
	if utf8.RuneCountInString(s) > mdTextMax {
		return string([]rune(s)[:mdTextMax-1]) + "…"
	}
	return s
}

// mdText makes text from the repository plain text in a Markdown table
// cell: control characters as Go escapes (a newline cannot end the row),
// every character Markdown or HTML acts on as a numeric entity (no pipe
// ends the cell, no backtick, emphasis, link, tag or mention forms), and
// at most mdTextMax characters.
func mdText(s string) string {
	s = oneLine(s)
	s = ellipsize(s)
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("&<>\"'|`*_[](){}~\\!#@:", r) {
			fmt.Fprintf(&b, "&#%d;", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
