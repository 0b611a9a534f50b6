package action

import (
	"flag"
	"maps"
	"strings"
)

// EnvName is the environment variable an input is read from: INPUT_ and the
// name in upper case, hyphens kept, as GitHub Actions and act set it.
func EnvName(input string) string { return "INPUT_" + strings.ToUpper(input) }

// FromEnv reads every input that is set in the environment, as INPUT_<NAME>
// or, for shells that cannot export a hyphen, with underscores
// (INPUT_CACHE_KEY_FILES).
func FromEnv(getenv func(string) string) map[string]string {
	raw := map[string]string{}
	for _, s := range Specs {
		for _, k := range []string{EnvName(s.Name), strings.ReplaceAll(EnvName(s.Name), "-", "_")} {
			if v := getenv(k); v != "" {
				raw[s.Name] = v
				break
			}
		}
	}
	return raw
}

// Flags defines one flag per input on fs; boolean inputs may be given bare
// (--dry-run). After fs.Parse, the returned function gives the inputs set on
// the command line.
func Flags(fs *flag.FlagSet) func() map[string]string {
	vals := make(map[string]*flagValue, len(Specs))
	for _, s := range Specs {
		v := &flagValue{s: s.Default, isBool: s.Default == "true" || s.Default == "false"}
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
}

func (v *flagValue) String() string     { return v.s }
func (v *flagValue) Set(s string) error { v.s = s; return nil }
func (v *flagValue) IsBoolFlag() bool   { return v.isBool }

// Merge returns the inputs of base overridden by those of over.
func Merge(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	maps.Copy(out, base)
	maps.Copy(out, over)
	return out
}
