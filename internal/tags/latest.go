package tags

import "strings"

// Higher finds a release in a repository's tags that is higher than v: the
// release latest belongs to. A repository tag is a release when it is a
// semantic version without a pre-release, written bare (1.4.2), with a v
// (v1.4.2), or with the prefix and suffix that this run's own tags put
// around v (app-1.4.2 when the run pushes app-1.3.5). It returns the
// highest such tag, or "" when v is the highest release (or the only one).
func Higher(v Version, own, repo []string) string {
	type shape struct{ prefix, suffix string }
	shapes := []shape{{"", ""}}
	core := v.Core()
	for _, t := range own {
		if i := strings.Index(t, core); i >= 0 {
			shapes = append(shapes, shape{t[:i], t[i+len(core):]})
		}
	}
	var best string
	var bestV Version
	for _, t := range repo {
		for _, s := range shapes {
			if len(t) < len(s.prefix)+len(s.suffix) || !strings.HasPrefix(t, s.prefix) || !strings.HasSuffix(t, s.suffix) {
				continue
			}
			w, ok := ParseVersion(t[len(s.prefix) : len(t)-len(s.suffix)])
			if !ok || !w.Release() || w.Compare(v) <= 0 {
				continue
			}
			if best == "" || w.Compare(bestV) > 0 {
				best, bestV = t, w
			}
			break
		}
	}
	return best
}
