// Command vulnfilter reads govulncheck's JSON output (symbol scan), tells
// reachable findings from ones only imported or required, and fails on a
// reachable one whose fix is available: a module version the proxy serves,
// or, for the standard library, a Go release newer than the toolchain
// releases are built with (go.mod's toolchain line) that the proxy serves.
package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

type message struct {
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

// level is how close a finding comes to the binary: govulncheck reports an
// advisory at every level it reaches.
type level int

const (
	required  level = iota // the module is in the build list
	imported               // a vulnerable package is linked
	reachable              // a vulnerable symbol is called
)

func (l level) String() string { return [...]string{"required", "imported", "reachable"}[l] }

type finding struct {
	osv, module, version, fixed string
	level                       level
}

func main() {
	toolchain := flag.String("toolchain", "", "the Go release that builds releases (go.mod's toolchain line), e.g. go1.26.11")
	flag.Parse()
	found, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulnfilter: reading govulncheck output:", err)
		os.Exit(2)
	}
	counts := map[level]int{}
	failed := 0
	for _, f := range found {
		counts[f.level]++
		verdict, fail := judge(f, *toolchain)
		if fail {
			failed++
		}
		fmt.Printf("%-9s %-10s %s: %s@%s; %s\n", f.level, mark(fail), f.osv, f.module, f.version, verdict)
	}
	fmt.Printf("vulnfilter: %d advisories: %d reachable, %d imported, %d required only\n", len(found), counts[reachable], counts[imported], counts[required])
	if failed > 0 {
		fmt.Printf("vulnfilter: %d reachable with a fix available: upgrade the modules marked UPGRADE (go get module@version), or raise go.mod's toolchain line\n", failed)
		os.Exit(1)
	}
	fmt.Println("vulnfilter: none reachable with a fix available")
}

func mark(fail bool) string {
	if fail {
		return "UPGRADE"
	}
	return ""
}

// read collects one finding per advisory and module, at the deepest level
// govulncheck reported it.
func read(r io.Reader) ([]finding, error) {
	dec := json.NewDecoder(r)
	type key struct{ osv, module string }
	seen := map[key]*finding{}
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, err
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 {
			continue
		}
		t := f.Trace[0]
		l := required
		switch {
		case t.Function != "":
			l = reachable
		case t.Package != "":
			l = imported
		}
		k := key{f.OSV, t.Module}
		if have := seen[k]; have == nil {
			seen[k] = &finding{osv: f.OSV, module: t.Module, version: t.Version, fixed: f.FixedVersion, level: l}
		} else if l > have.level {
			have.level = l
		}
	}
	var out []finding
	for _, f := range seen {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b finding) int {
		return cmp.Or(cmp.Compare(b.level, a.level), cmp.Compare(a.module, b.module), cmp.Compare(a.osv, b.osv))
	})
	return out, nil
}

// judge says what can be done about f, and whether the check fails on it.
func judge(f finding, toolchain string) (string, bool) {
	if f.fixed == "" {
		return "no fixed version", false
	}
	if f.module == "stdlib" {
		fixed := "go" + strings.TrimPrefix(f.fixed, "v")
		if toolchain != "" && compareGo(fixed, toolchain) <= 0 {
			return "fixed in " + fixed + ": releases build with " + toolchain + " (go.mod's toolchain line)", false
		}
		if !served("golang.org/toolchain", "v0.0.1-"+fixed+".linux-amd64") {
			return "fixed in " + fixed + ", which the proxy does not serve", false
		}
		return "fixed in " + fixed + ", which the proxy serves", f.level == reachable
	}
	if !served(f.module, f.fixed) {
		return "fixed in " + f.fixed + ", which the proxy does not serve", false
	}
	return "fixed in " + f.fixed + ", which the proxy serves", f.level == reachable
}

// compareGo compares two Go releases (go1.26.9, go1.26.11) part by part,
// numerically; a missing part counts as 0.
func compareGo(a, b string) int {
	pa := strings.Split(strings.TrimPrefix(a, "go"), ".")
	pb := strings.Split(strings.TrimPrefix(b, "go"), ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// served tells whether the module proxy serves module@version.
func served(module, version string) bool {
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	return exec.Command("go", "list", "-m", module+"@"+version).Run() == nil
}
