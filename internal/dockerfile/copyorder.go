package dockerfile

import (
	"errors"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// WholeContextCopy finds, in stage s and the stages it is FROM (its parent
// chain, oldest first), the first COPY or ADD from the build context whose
// source is the whole context (".", "./", "*", "./*", "/" and the like) that
// comes before a RUN in the chain. It returns that instruction's line and the
// line of the first RUN after it. Such a copy makes every change to any file
// of the context rebuild that RUN and all that follows, the restore of
// dependencies included.
//
// Copies from another stage or an image (COPY --from), of a narrower source
// ("src/", "*.csproj"), with --exclude, of a URL or a heredoc do not count.
// Neither does a whole-context copy that follows the cache-friendly form: a
// RUN after a narrower part of the context was copied (or bind-mounted into
// that RUN), which is where the dependencies are restored.
func (d *Dockerfile) WholeContextCopy(s *Stage) (copyLine, runLine int, ok bool) {
	if s == nil || s.Index < 0 || s.Index >= len(d.Stages) {
		return 0, 0, false
	}
	stages, err := d.instructionStages()
	if err != nil {
		return 0, 0, false
	}
	var chain []int
	for i := s.Index; i >= 0; i = d.Stages[i].Parent {
		chain = append([]int{i}, chain...)
	}

	narrowed := false // a narrower part of the context has been copied
	restored := false // a RUN came after a narrower part of the context
	for _, i := range chain {
		for _, c := range stages[i].Commands {
			line := toLineRange(c.Location()).start
			var in contextInput
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					continue
				}
				in = classifySources(c.SourcePaths, c.ExcludePatterns)
			case *instructions.AddCommand:
				in = classifySources(c.SourcePaths, c.ExcludePatterns)
			case *instructions.RunCommand:
				if copyLine > 0 {
					return copyLine, line, true
				}
				if narrowed || narrowMount(c) {
					restored = true
				}
				continue
			default:
				continue
			}
			switch {
			case copyLine > 0:
			case in == wholeContext && restored:
				return 0, 0, false
			case in == wholeContext:
				copyLine = line
			case in == partOfContext:
				narrowed = true
			}
		}
	}
	return 0, 0, false
}

// instructionStages parses the Dockerfile's source again into BuildKit's
// instructions, stage by stage.
func (d *Dockerfile) instructionStages() ([]instructions.Stage, error) {
	res, err := parser.Parse(strings.NewReader(strings.Join(d.lines, "\n")))
	if err != nil {
		return nil, err
	}
	stages, _, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		return nil, err
	}
	if len(stages) != len(d.Stages) {
		return nil, errors.New("the Dockerfile's stages changed since it was read")
	}
	return stages, nil
}

// contextInput is how much of the build context an instruction reads.
type contextInput int

const (
	noContext     contextInput = iota // another stage, an image, a URL or a heredoc
	partOfContext                     // some paths of the context
	wholeContext                      // all of the context
)

// classifySources tells how much of the context a COPY or ADD of sources
// reads. An --exclude makes even "." a narrower copy: it is how the
// dependency files alone are copied without listing them.
func classifySources(sources, excludes []string) contextInput {
	in := noContext
	for _, src := range sources {
		switch {
		case isRemote(src):
		case wholeSource(src) && len(excludes) == 0:
			return wholeContext
		default:
			in = partOfContext
		}
	}
	return in
}

// wholeSource reports whether a COPY source names the whole context.
func wholeSource(src string) bool {
	switch path.Clean("/" + src) {
	case "/", "/*", "/**", "/**/*":
		return true
	}
	return false
}

// isRemote reports whether an ADD source is a URL or a Git repository rather
// than a path of the context.
func isRemote(src string) bool {
	return strings.Contains(src, "://") || strings.HasPrefix(src, "git@")
}

// narrowMount reports whether the RUN bind-mounts a narrower part of the
// context, as in RUN --mount=type=bind,source=go.sum,target=go.sum go mod
// download.
func narrowMount(c *instructions.RunCommand) bool {
	// Parsing leaves every field of --mount but from= for the expansion of
	// variables; keep the words as written.
	if err := c.Expand(func(word string) (string, error) { return word, nil }); err != nil {
		return false
	}
	for _, m := range instructions.GetMounts(c) {
		if m.Type == instructions.MountTypeBind && m.From == "" && m.Source != "" && !wholeSource(m.Source) {
			return true
		}
	}
	return false
}
