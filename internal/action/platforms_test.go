package action

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPlatformsSummary: an index's platforms are a table in the summary,
// a block in the text summary and a list in metadata; a single-platform
// image's summary and metadata show none.
func TestPlatformsSummary(t *testing.T) {
	t.Parallel()
	s := sample
	s.Platforms = []Platform{
		{Platform: "linux/amd64", Digest: "sha256:" + strings.Repeat("a", 64), SizeBytes: 87_300_000},
		{Platform: "linux/arm64/v8", Digest: "sha256:" + strings.Repeat("b", 64), SizeBytes: 85_100_000},
	}
	md := s.Markdown()
	golden(t, "platforms.summary.md", md)
	if !strings.Contains(md, "| linux/arm64/v8 | `sha256:"+strings.Repeat("b", 64)+"` | 85.1 MB |") {
		t.Errorf("the Markdown summary lacks the arm64 row:\n%s", md)
	}
	if text := s.Text(); !strings.Contains(text, "Platforms\n  linux/amd64      sha256:"+strings.Repeat("a", 64)+"    87.3 MB\n") {
		t.Errorf("the text summary lacks the platforms:\n%s", text)
	}
	var meta struct {
		Platforms []Platform `json:"platforms"`
	}
	pairs := s.Outputs.Pairs()
	if err := json.Unmarshal([]byte(pairs[len(pairs)-1].Value), &meta); err != nil || len(meta.Platforms) != 2 || meta.Platforms[1] != s.Platforms[1] {
		t.Errorf("metadata = %s (%v), want both platforms", pairs[len(pairs)-1].Value, err)
	}
	if strings.Contains(sample.Markdown(), "Platforms") || strings.Contains(sample.Outputs.Pairs()[len(pairs)-1].Value, "platforms") {
		t.Error("a single-platform image's summary or metadata names platforms")
	}
}
