package action

import (
	"regexp"
)

// Messages name inputs as the action and the component take them: "set
// dry-run: true", "set build-stage to ...". The CLI takes flags, so its
// reporter says the same with them: "set --dry-run", "set --build-stage to
// ...". Only a known input after a verb of advice is rewritten: "input file:"
// (the name of an input error) is left as it is.
var (
	settingValue = regexp.MustCompile(`\b(set|try|or|with) ([a-z][a-z-]*): ([A-Za-z0-9][A-Za-z0-9._-]*)`)
	settingName  = regexp.MustCompile(`\b(set) ([a-z][a-z-]*) (to)\b`)
)

// FlagWording says s with flags where it advises setting an input.
func FlagWording(s string) string {
	s = settingValue.ReplaceAllStringFunc(s, func(m string) string {
		p := settingValue.FindStringSubmatch(m)
		verb, name, value := p[1], p[2], p[3]
		if !isInput(name) {
			return m
		}
		if value == "true" && IsBoolFlag(name) {
			return verb + " --" + name
		}
		return verb + " --" + name + "=" + value
	})
	return settingName.ReplaceAllStringFunc(s, func(m string) string {
		p := settingName.FindStringSubmatch(m)
		if !isInput(p[2]) {
			return m
		}
		return p[1] + " --" + p[2] + " " + p[3]
	})
}

func isInput(name string) bool {
	for _, s := range Specs {
		if s.Name == name {
			return true
		}
	}
	return false
}
