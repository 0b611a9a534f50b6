package tags

import (
	"regexp"
	"strconv"
	"strings"
)

// Version is a semantic version (semver.org 2.0.0).
type Version struct {
	Major, Minor, Patch uint64
	Pre                 string // the pre-release, without its '-'; "" for a release
	Raw                 string // as written
}

// semverRE is semver.org's grammar; a leading v (or V, or =) is allowed,
// as node-semver's valid() (which metadata-action uses) allows it.
var semverRE = regexp.MustCompile(`^[vV=]?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)` +
	`(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?` +
	`(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$`)

// ParseVersion parses a semantic version such as v1.4.2 or 2.0.0-rc.1.
func ParseVersion(s string) (Version, bool) {
	m := semverRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, false
	}
	v := Version{Pre: m[4], Raw: s}
	var err error
	for i, dst := range []*uint64{&v.Major, &v.Minor, &v.Patch} {
		if *dst, err = strconv.ParseUint(m[i+1], 10, 64); err != nil {
			return Version{}, false
		}
	}
	return v, true
}

// Release reports that v is not a pre-release.
func (v Version) Release() bool { return v.Pre == "" }

// String is major.minor.patch, with the pre-release: node-semver's
// version, which metadata-action's {{version}} is (build metadata dropped).
func (v Version) String() string {
	s := v.Core()
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	return s
}

// Core is major.minor.patch.
func (v Version) Core() string {
	return strconv.FormatUint(v.Major, 10) + "." + strconv.FormatUint(v.Minor, 10) + "." + strconv.FormatUint(v.Patch, 10)
}

// Compare orders versions by precedence (semver.org item 11): -1, 0 or +1.
func (v Version) Compare(w Version) int {
	for _, p := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		switch {
		case p[0] < p[1]:
			return -1
		case p[0] > p[1]:
			return 1
		}
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	}
	return comparePre(strings.Split(v.Pre, "."), strings.Split(w.Pre, "."))
}

func comparePre(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, xerr := strconv.ParseUint(a[i], 10, 64)
		y, yerr := strconv.ParseUint(b[i], 10, 64)
		switch {
		case xerr == nil && yerr == nil && x != y:
			if x < y {
				return -1
			}
			return 1
		case xerr == nil && yerr != nil:
			return -1 // numeric identifiers sort first
		case xerr != nil && yerr == nil:
			return 1
		case a[i] != b[i]:
			return strings.Compare(a[i], b[i])
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}
