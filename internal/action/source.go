package action

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/moby/buildkit/util/suggest"
)

// EnvName is the environment variable an input is read from: INPUT_ and the
// name in upper case, - as _ (INPUT_CACHE_KEY_FILES), as action.yml and the
// GitLab component set it.
func EnvName(input string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(input, "-", "_"))
}

// hyphenatedEnvName is the second form, hyphens kept
// (INPUT_CACHE-KEY-FILES), as act sets it beside ours and as an earlier step
// of a job can write it to GITHUB_ENV.
func hyphenatedEnvName(input string) string { return "INPUT_" + strings.ToUpper(input) }

// FromEnv reads every input that is set in the environment as EnvName. The
// hyphenated form is never preferred: on GitHub (GITHUB_ACTIONS=true) it is
// not read at all, since action.yml sets every input's EnvName itself, and
// one that differs from it is an error, as it is anywhere else; outside
// GitHub it is read when EnvName is empty (a shell that cannot export a
// hyphen cannot have set EnvName either).
func FromEnv(getenv func(string) string) (map[string]string, error) {
	onGitHub := getenv("GITHUB_ACTIONS") == "true"
	raw := map[string]string{}
	for _, s := range Specs {
		k := EnvName(s.Name)
		v := getenv(k)
		if h := hyphenatedEnvName(s.Name); h != k {
			switch hv := getenv(h); {
			case hv == "" || hv == v:
			case v == "" && !onGitHub:
				v = hv
			case onGitHub:
				return nil, fmt.Errorf("input %s: %s is set and differs from %s, which action.yml sets: an earlier step may have written it to GITHUB_ENV; remove it from the job's environment", s.Name, h, k)
			default:
				return nil, fmt.Errorf("input %s: %s and %s are both set, to different values: set only %s", s.Name, h, k, k)
			}
		}
		if v != "" {
			raw[s.Name] = v
		}
	}
	return raw, nil
}

// repeatable are the inputs whose flag may be given more than once, one
// line each time, as docker build's --label and --annotation are.
var repeatable = []string{"labels", "annotations"}

// Flags defines one flag per input on fs; boolean inputs may be given bare
// (--dry-run), and a repeatable one many times (--labels a=1 --labels b=2).
// After fs.Parse, the returned function gives the inputs set on
// the command line.
func Flags(fs *flag.FlagSet) func() map[string]string {
	vals := make(map[string]*flagValue, len(Specs))
	for _, s := range Specs {
		v := &flagValue{s: s.Default, isBool: s.isBool(), lines: slices.Contains(repeatable, s.Name)}
		vals[s.Name] = v
		fs.Var(v, s.Name, s.Usage)
	}
	return func() map[string]string {
		raw := map[string]string{}
		fs.Visit(func(f *flag.Flag) {
			if v, ok := vals[f.Name]; ok {
				raw[f.Name] = v.s
			}
		})
		return raw
	}
}

type flagValue struct {
	s      string
	isBool bool
	lines  bool // each Set adds a line
	set    bool
}

func (v *flagValue) String() string { return v.s }
func (v *flagValue) Set(s string) error {
	if v.lines && v.set {
		s = v.s + "\n" + s
	}
	v.s, v.set = s, true
	return nil
}
func (v *flagValue) IsBoolFlag() bool { return v.isBool }

// Merge returns the inputs of base overridden by those of over.
func Merge(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	maps.Copy(out, base)
	maps.Copy(out, over)
	return out
}

func (s Spec) isBool() bool { return s.Default == "true" || s.Default == "false" }

// IsBoolFlag tells an input that is a flag of its own (--dry-run), whose
// value can be given only with = (--push=false).
func IsBoolFlag(name string) bool {
	for _, s := range Specs {
		if s.Name == name {
			return s.isBool()
		}
	}
	return false
}

// ClosestFlag is the input name nearest a mistyped one (contxt: context).
func ClosestFlag(name string) (string, bool) {
	names := make([]string, len(Specs))
	for i, s := range Specs {
		names[i] = s.Name
	}
	return suggest.Search(name, names, false)
}

// PrintFlags lists the flags as they are written on a command line:
// --name=VALUE, and a boolean as the value that changes it (--push=false,
// --dry-run), each with its default.
func PrintFlags(w io.Writer) {
	for _, s := range Specs {
		form := "--" + s.Name + "=VALUE"
		switch s.Default {
		case "true":
			form = "--" + s.Name + "=false"
		case "false":
			form = "--" + s.Name
		}
		usage := FlagWording(s.Usage)
		if s.Default != "" && !strings.Contains(usage, "(default") {
			usage += " (default " + s.Default + ")"
		}
		fmt.Fprintf(w, "  %s\n      %s\n", form, usage)
	}
}
