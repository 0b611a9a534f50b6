// Command vulnfilter reads govulncheck's JSON output and fails when an
// advisory touches a dependency whose fixed version the module proxy serves.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

type message struct {
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module  string `json:"module"`
			Version string `json:"version"`
		} `json:"trace"`
	} `json:"finding"`
}

func main() {
	dec := json.NewDecoder(os.Stdin)
	type key struct{ osv, module, version, fixed string }
	seen := map[key]bool{}
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			fmt.Fprintln(os.Stderr, "vulnfilter: reading govulncheck output:", err)
			os.Exit(2)
		}
		if f := m.Finding; f != nil && len(f.Trace) > 0 {
			seen[key{f.OSV, f.Trace[0].Module, f.Trace[0].Version, f.FixedVersion}] = true
		}
	}
	var keys []key
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].module+keys[i].osv < keys[j].module+keys[j].osv })
	failed := false
	for _, k := range keys {
		switch {
		case k.module == "stdlib":
			fmt.Printf("stdlib      %s: go%s, fixed in go%s (build releases with the newest Go patch release)\n", k.osv, strings.TrimPrefix(k.version, "v"), strings.TrimPrefix(k.fixed, "v"))
		case k.fixed == "":
			fmt.Printf("no fix      %s: %s@%s has no fixed version\n", k.osv, k.module, k.version)
		case served(k.module, k.fixed):
			fmt.Printf("UPGRADE     %s: %s@%s, fixed in %s, which the proxy serves\n", k.osv, k.module, k.version, k.fixed)
			failed = true
		default:
			fmt.Printf("not served  %s: %s@%s, fixed in %s, which the proxy does not serve\n", k.osv, k.module, k.version, k.fixed)
		}
	}
	if failed {
		fmt.Println("vulnfilter: upgrade the modules marked UPGRADE (go get module@version)")
		os.Exit(1)
	}
	fmt.Printf("vulnfilter: %d advisories, none with a served fix in a dependency\n", len(keys))
}

// served tells whether the module proxy serves module@version.
func served(module, version string) bool {
	if version[0] != 'v' {
		version = "v" + version
	}
	return exec.Command("go", "list", "-m", module+"@"+version).Run() == nil
}
