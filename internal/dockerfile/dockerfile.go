package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/util/suggest"
)

// Stage is one FROM section of a Dockerfile.
type Stage struct {
	// Index is the stage's position in the Dockerfile, from 0.
	Index int
	// Name is the name after AS, lower-cased as BuildKit does; "" when unnamed.
	Name string
	// Base is the FROM argument with global ARGs expanded as BuildKit expands
	// them; variables that have no value when the Dockerfile is read (such as
	// TARGETARCH, which BuildKit fills in from the daemon) are left as written.
	Base string
	// Line is the 1-based line of the FROM instruction.
	Line int
	// EndLine is the last line of the stage's last instruction.
	EndLine int
	// Parent is the index of the stage this stage is FROM, or -1 when it is
	// FROM an image.
	Parent int
	// CopiesFrom holds, in ascending order, the indices of the stages this
	// stage reads files from (COPY --from, RUN --mount=from=). Images named in
	// --from are not stages and are left out.
	CopiesFrom []int
	// Images holds, in file order and once each, the images this stage
	// reads files from: a --from of COPY or RUN --mount that names no stage.
	Images []string
	// Args holds the names of the ARGs declared in this stage, in order.
	Args []string
}

// Dockerfile is the stage graph of a Dockerfile, read with BuildKit's parser.
type Dockerfile struct {
	Stages []Stage
	// GlobalArgs holds the names of the ARGs declared before the first FROM.
	GlobalArgs []string
	// Warnings holds what the parser accepted but flagged (empty continuation
	// lines, duplicate stage names); the build goes on.
	Warnings []Error

	lines  []string      // the source, one entry a line, without line endings
	header []lineRange   // parser directives and the global ARG instructions
	ranges [][]lineRange // for each stage: its FROM and each instruction
}

// Error is a problem at a line of the Dockerfile.
type Error struct {
	Line int // 1-based
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

type lineRange struct{ start, end int }

// ParseOption changes how Parse reads a Dockerfile.
type ParseOption func(*parseOptions)

type parseOptions struct {
	buildArgs map[string]string
}

// WithBuildArgs sets the build arguments that override the defaults of global
// ARGs, as they would for the build, when FROM lines are expanded.
func WithBuildArgs(args map[string]string) ParseOption {
	return func(o *parseOptions) { o.buildArgs = args }
}

// platformArgs are the ARGs BuildKit defines for every build from the daemon's
// platform and the target; a build argument may override them.
var platformArgs = []string{
	"BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
	"TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE",
}

// Parse reads a Dockerfile and resolves its stages the way
// BuildKit's Dockerfile frontend does. Problems in the file are returned as a
// *Error that names the line.
func Parse(r io.Reader, opts ...ParseOption) (*Dockerfile, error) {
	var o parseOptions
	for _, opt := range opts {
		opt(&o)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading Dockerfile: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))

	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, locatedError(err)
	}
	// A linter that reports nothing: instructions.Parse dereferences a nil
	// one when a "# check=" comment precedes an instruction.
	stages, metaArgs, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		return nil, locatedError(err)
	}
	if len(stages) == 0 {
		return nil, &Error{Line: 1, Msg: "the Dockerfile has no FROM instruction"}
	}

	d := &Dockerfile{lines: splitLines(data)}
	d.readHeader(res, data)
	env, err := d.declareGlobalArgs(metaArgs, o.buildArgs, res.EscapeToken)
	if err != nil {
		return nil, err
	}
	if err := d.readStages(stages, env, res.EscapeToken); err != nil {
		return nil, err
	}
	d.warnDuplicateNames()
	for i := range d.Stages {
		if err := d.resolveParent(i); err != nil {
			return nil, err
		}
		if err := d.resolveCopies(i, stages[i].Commands, res.EscapeToken); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// readHeader keeps the parser's warnings, each at its line (1 when it has
// none), and the lines of the parser directives that head data.
func (d *Dockerfile) readHeader(res *parser.Result, data []byte) {
	for _, w := range res.Warnings {
		line := 1
		if w.Location != nil {
			line = w.Location.Start.Line
		}
		d.Warnings = append(d.Warnings, Error{Line: line, Msg: w.Short})
	}
	directives, _ := (&parser.DirectiveParser{}).ParseAll(data)
	for _, dir := range directives {
		d.header = append(d.header, toLineRange(dir.Location))
	}
}

// declareGlobalArgs records the ARGs before the first FROM, names and lines,
// and returns the values they give FROM lines, a build argument overriding
// a default.
func (d *Dockerfile) declareGlobalArgs(metaArgs []instructions.ArgCommand, buildArgs map[string]string, escape rune) (*argEnv, error) {
	env := newArgEnv(buildArgs)
	for _, a := range metaArgs {
		d.header = append(d.header, toLineRange(a.Location()))
		for _, kv := range a.Args {
			d.GlobalArgs = appendUnique(d.GlobalArgs, kv.Key)
			if err := env.declare(kv, escape); err != nil {
				return nil, &Error{Line: toLineRange(a.Location()).start, Msg: err.Error()}
			}
		}
	}
	return env, nil
}

// readStages adds a Stage, and its instructions' lines, for each stage,
// with its FROM expanded against env.
func (d *Dockerfile) readStages(stages []instructions.Stage, env *argEnv, escape rune) error {
	lex := shell.NewLex(escape)
	lex.SkipUnsetEnv = true
	for i, st := range stages {
		from := toLineRange(st.Location)
		s := Stage{Index: i, Name: st.Name, Line: from.start, EndLine: from.end, Parent: -1}
		ranges := []lineRange{from}
		for _, c := range st.Commands {
			r := toLineRange(c.Location())
			ranges = append(ranges, r)
			s.EndLine = max(s.EndLine, r.end)
			if a, ok := c.(*instructions.ArgCommand); ok {
				for _, kv := range a.Args {
					s.Args = appendUnique(s.Args, kv.Key)
				}
			}
		}
		base, _, err := lex.ProcessWord(st.BaseName, env)
		if err != nil {
			return &Error{Line: s.Line, Msg: fmt.Sprintf("expanding FROM %s: %v", st.BaseName, err)}
		}
		if base == "" {
			return &Error{Line: s.Line, Msg: fmt.Sprintf("FROM %s: the base name is blank after expanding its variables", st.BaseName)}
		}
		s.Base = base
		d.Stages = append(d.Stages, s)
		d.ranges = append(d.ranges, ranges)
	}
	return nil
}

// warnDuplicateNames warns of each named stage whose name an earlier stage
// already has: BuildKit takes the last one.
func (d *Dockerfile) warnDuplicateNames() {
	for i := range d.Stages {
		s := &d.Stages[i]
		if s.Name == "" {
			continue
		}
		for _, prev := range d.Stages[:i] {
			if prev.Name == s.Name {
				d.Warnings = append(d.Warnings, Error{Line: s.Line, Msg: fmt.Sprintf("stage name %q is also used at line %d: references mean the last stage with that name", s.Name, prev.Line)})
				break
			}
		}
	}
}

// resolveParent finds the stage that stage i is FROM. Like BuildKit, it
// matches the expanded base exactly against the names of earlier stages;
// anything else is an image.
func (d *Dockerfile) resolveParent(i int) error {
	s := &d.Stages[i]
	for j := i - 1; j >= 0; j-- {
		if d.Stages[j].Name == s.Base {
			s.Parent = j
			return nil
		}
	}
	for j, other := range d.Stages {
		if j == i || other.Name == "" || !strings.EqualFold(other.Name, s.Base) {
			continue
		}
		if j < i {
			return &Error{Line: s.Line, Msg: fmt.Sprintf("FROM %s: BuildKit matches stage names in FROM exactly and image names must be lower-case: write FROM %s to use stage %s", s.Base, other.Name, other.Name)}
		}
		// BuildKit resolves FROM against earlier stages only: this is the
		// image of that name, which is legal but easy to misread.
		d.Warnings = append(d.Warnings, Error{Line: s.Line, Msg: fmt.Sprintf("FROM %s names the image %s, not stage %s defined later at line %d: a stage can only build on a stage defined before it", s.Base, s.Base, other.Name, other.Line)})
		return nil
	}
	return nil
}

// resolveCopies fills CopiesFrom of stage i from its COPY --from and
// RUN --mount=from= flags.
func (d *Dockerfile) resolveCopies(i int, cmds []instructions.Command, escape rune) error {
	s := &d.Stages[i]
	noEnv := shell.NewLex(escape)
	for _, c := range cmds {
		line := toLineRange(c.Location()).start
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From == "" {
				continue
			}
			flag := "COPY --from=" + c.From
			if expanded, _, err := noEnv.ProcessWord(c.From, shell.EnvsFromSlice(nil)); err != nil || expanded != c.From {
				return &Error{Line: line, Msg: flag + ": variable expansion is not supported for --from; define a stage with FROM using a global ARG and copy from that stage"}
			}
			j, err := d.resolveFrom(i, line, flag, c.From, true)
			if err != nil {
				return err
			}
			if j >= 0 {
				s.CopiesFrom = appendUnique(s.CopiesFrom, j)
			} else {
				s.Images = appendUnique(s.Images, c.From)
			}
		case *instructions.RunCommand:
			for _, m := range instructions.GetMounts(c) {
				if m.From == "" {
					continue
				}
				j, err := d.resolveFrom(i, line, "RUN --mount=from="+m.From, m.From, false)
				if err != nil {
					return err
				}
				if j >= 0 {
					s.CopiesFrom = appendUnique(s.CopiesFrom, j)
				} else {
					s.Images = appendUnique(s.Images, m.From)
				}
			}
		}
	}
	slices.Sort(s.CopiesFrom)
	return nil
}

// resolveFrom resolves the value of a --from flag in stage i to a stage
// index, or -1 for an image. BuildKit resolves numbers only in COPY --from;
// names are case-insensitive and, with duplicates, mean the last stage.
func (d *Dockerfile) resolveFrom(i, line int, flag, ref string, indexOK bool) (int, error) {
	j := -1
	if n, err := strconv.Atoi(ref); err == nil {
		if !indexOK {
			return -1, &Error{Line: line, Msg: fmt.Sprintf("%s: BuildKit does not resolve stage numbers in --mount (it would pull an image named %q); name the stage with FROM ... AS <name> and use from=<name>", flag, ref)}
		}
		if n < 0 || n >= len(d.Stages) {
			return -1, &Error{Line: line, Msg: fmt.Sprintf("%s: there is no stage %d; stages are numbered 0 to %d", flag, n, len(d.Stages)-1)}
		}
		j = n
	} else {
		for k := len(d.Stages) - 1; k >= 0; k-- {
			if d.Stages[k].Name != "" && strings.EqualFold(d.Stages[k].Name, ref) {
				j = k
				break
			}
		}
	}
	switch {
	case j == i:
		return -1, &Error{Line: line, Msg: fmt.Sprintf("%s: a stage cannot read files from itself", flag)}
	case j >= 0:
		// A later stage is fine as long as there is no cycle, which BuildKit
		// reports itself.
		return j, nil
	}
	// Not a stage: BuildKit pulls it as an image. A bare word one typo away
	// from a stage name is almost certainly a mistyped stage, and would
	// otherwise fail late with "pull access denied".
	if !strings.ContainsAny(ref, ":/@") {
		if match, ok := suggest.Search(ref, d.names(i), false); ok {
			return -1, &Error{Line: line, Msg: fmt.Sprintf("%s: unknown stage %q (did you mean %s?); to read from an image, give it a tag, such as %s:latest", flag, ref, match, ref)}
		}
	}
	return -1, nil
}

// names lists the stage names, leaving out stage skip.
func (d *Dockerfile) names(skip int) []string {
	var names []string
	for _, s := range d.Stages {
		if s.Name != "" && s.Index != skip {
			names = appendUnique(names, s.Name)
		}
	}
	return names
}

// Ref names the stage as a build target and in messages: its name, or its
// index when unnamed.
func (s *Stage) Ref() string {
	if s.Name != "" {
		return s.Name
	}
	return strconv.Itoa(s.Index)
}

// Title names a stage for people: its name, else its position ("the final
// stage", "stage 2"), as BuildKit's step names number stages from 0.
func (d *Dockerfile) Title(s *Stage) string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Index == len(d.Stages)-1:
		return "(the final stage)"
	}
	return "(stage " + strconv.Itoa(s.Index) + ")"
}

// Stage finds a stage by name (case-insensitive) or by index ("0").
func (d *Dockerfile) Stage(ref string) (*Stage, error) {
	if n, err := strconv.Atoi(ref); err == nil {
		if n >= 0 && n < len(d.Stages) {
			return &d.Stages[n], nil
		}
	} else {
		for i := len(d.Stages) - 1; i >= 0; i-- {
			if d.Stages[i].Name != "" && strings.EqualFold(d.Stages[i].Name, ref) {
				return &d.Stages[i], nil
			}
		}
	}
	msg := fmt.Sprintf("stage %q not found in the Dockerfile", ref)
	if match, ok := suggest.Search(ref, d.names(-1), false); ok {
		msg += fmt.Sprintf(" (did you mean %s?)", match)
	}
	if names := d.names(-1); len(names) > 0 {
		msg += fmt.Sprintf(": its stages are %s, or a number from 0 to %d", strings.Join(names, ", "), len(d.Stages)-1)
	} else {
		msg += fmt.Sprintf(": its stages are unnamed, numbered 0 to %d", len(d.Stages)-1)
	}
	return nil, errors.New(msg)
}

// Last returns the last stage, the one BuildKit builds when no target is set.
func (d *Dockerfile) Last() *Stage {
	return &d.Stages[len(d.Stages)-1]
}

// BuildStageFor returns the default build stage for target: the stage the
// target copies files from or, when the target copies from none, the one its
// FROM chain copies from. When several stages are copied from it returns the
// latest in file order; BuildStageCandidates lists them all. It returns false
// when the Dockerfile has a single stage or nothing in the chain copies from
// a stage.
func (d *Dockerfile) BuildStageFor(target *Stage) (*Stage, bool) {
	c := d.BuildStageCandidates(target)
	if len(c) == 0 {
		return nil, false
	}
	return c[len(c)-1], true
}

// BuildStageCandidates returns, in file order, the stages BuildStageFor
// chooses from; more than one means it made a choice the user may want to
// override.
func (d *Dockerfile) BuildStageCandidates(target *Stage) []*Stage {
	if target == nil || len(d.Stages) < 2 {
		return nil
	}
	for i := target.Index; i >= 0; i = d.Stages[i].Parent {
		if from := d.Stages[i].CopiesFrom; len(from) > 0 {
			out := make([]*Stage, len(from))
			for k, j := range from {
				out[k] = &d.Stages[j]
			}
			return out
		}
	}
	return nil
}

// Source returns the text that builds s: the parser directives and global ARG
// instructions, and the instructions of s and of every stage it depends on
// (its FROM chain and the stages it copies from, transitively), one line per
// source line in file order, with "\n" line endings. Comments and blank lines
// between instructions are left out, so the text suits a cache key.
func (d *Dockerfile) Source(s *Stage) string {
	keep := make([]bool, len(d.lines)+1)
	mark := func(r lineRange) {
		for l := max(r.start, 1); l <= r.end && l <= len(d.lines); l++ {
			keep[l] = true
		}
	}
	for _, r := range d.header {
		mark(r)
	}
	seen := make([]bool, len(d.Stages))
	stack := []int{s.Index}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[i] {
			continue
		}
		seen[i] = true
		for _, r := range d.ranges[i] {
			mark(r)
		}
		if p := d.Stages[i].Parent; p >= 0 {
			stack = append(stack, p)
		}
		stack = append(stack, d.Stages[i].CopiesFrom...)
	}
	var b strings.Builder
	for l, ok := range keep {
		if ok {
			b.WriteString(d.lines[l-1])
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// locatedError turns a BuildKit parse error into a *Error at the
// innermost line BuildKit recorded.
func locatedError(err error) error {
	line := 1
	var le *parser.LocationError
	if errors.As(err, &le) {
		if len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
			line = max(le.Locations[0][0].Start.Line, 1)
		}
		return &Error{Line: line, Msg: le.Error()}
	}
	return &Error{Line: line, Msg: err.Error()}
}

func toLineRange(loc []parser.Range) lineRange {
	if len(loc) == 0 {
		return lineRange{}
	}
	r := lineRange{start: loc[0].Start.Line, end: loc[0].End.Line}
	for _, l := range loc {
		r.start = min(r.start, l.Start.Line)
		r.end = max(r.end, l.End.Line)
	}
	return r
}

// splitLines splits data into lines the way BuildKit's parser counts them,
// dropping "\n" and a "\r" before it.
func splitLines(data []byte) []string {
	s := strings.TrimSuffix(string(data), "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

func appendUnique[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// argEnv holds the global ARG values as BuildKit computes them for FROM:
// build arguments override defaults, and a default may use earlier ARGs.
type argEnv struct {
	values    map[string]string
	keys      []string
	buildArgs map[string]string
}

func newArgEnv(buildArgs map[string]string) *argEnv {
	e := &argEnv{values: map[string]string{}, buildArgs: buildArgs}
	for _, k := range platformArgs {
		if v, ok := buildArgs[k]; ok {
			e.set(k, v)
		}
	}
	return e
}

func (e *argEnv) declare(kv instructions.KeyValuePairOptional, escape rune) error {
	if v, ok := e.buildArgs[kv.Key]; ok {
		e.set(kv.Key, v)
		return nil
	}
	if kv.Value == nil {
		return nil
	}
	lex := shell.NewLex(escape)
	lex.SkipUnsetEnv = true
	v, _, err := lex.ProcessWord(*kv.Value, e)
	if err != nil {
		return fmt.Errorf("expanding ARG %s: %w", kv.Key, err)
	}
	e.set(kv.Key, v)
	return nil
}

func (e *argEnv) set(k, v string) {
	if _, ok := e.values[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.values[k] = v
}

func (e *argEnv) Get(k string) (string, bool) {
	v, ok := e.values[k]
	return v, ok
}

func (e *argEnv) Keys() []string { return e.keys }
