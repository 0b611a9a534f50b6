package dockerfile

import (
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// What a build reads besides the context and its base images: the frontend
// that reads the Dockerfile, images named in --from, files fetched by URL,
// and which files of the context a stage's dependency restore can see. The
// skip key and the dependency key are made of them.

// Syntax returns the frontend image named by the Dockerfile's
// "# syntax=" directive, as BuildKit reads it, and false when there is none
// (the builder's built-in frontend reads the Dockerfile).
func (d *Dockerfile) Syntax() (string, bool) {
	ref, _, _, ok := parser.DetectSyntax([]byte(strings.Join(d.lines, "\n")))
	if !ok || ref == "" {
		return "", false
	}
	return ref, true
}

// Remote is a source an ADD fetches from outside the context: a URL or a
// Git repository.
type Remote struct {
	Line     int    // 1-based line of the ADD
	Source   string // as written
	Checksum string // the --checksum flag; "" when there is none
}

// Remotes lists, in file order, the remote sources of stage s's ADD
// instructions. What a URL serves can change without anything in the
// Dockerfile changing, unless --checksum pins it.
func (d *Dockerfile) Remotes(s *Stage) []Remote {
	stages, err := d.instructionStages()
	if err != nil || s == nil || s.Index < 0 || s.Index >= len(stages) {
		return nil
	}
	var out []Remote
	for _, c := range stages[s.Index].Commands {
		add, ok := c.(*instructions.AddCommand)
		if !ok {
			continue
		}
		for _, src := range add.SourcePaths {
			if isRemote(src) {
				out = append(out, Remote{Line: toLineRange(c.Location()).start, Source: src, Checksum: add.Checksum})
			}
		}
	}
	return out
}

// RestoreSources returns the part of the context that the build stage s's
// dependency restore can see: the sources (as .dockerignore-style globs,
// relative to the context) of the COPY and ADD instructions from the
// context that come, in s and the stages it is FROM (oldest first), from
// the first such copy up to the first RUN after it, with the sources that
// RUN bind-mounts from the context. A source's --exclude patterns follow it
// as "!" globs.
//
// It returns false when that part cannot be told or is the whole context:
// a whole-context copy (WholeContextCopy) comes first, a source holds a
// variable, or no copy from the context is followed by a RUN.
func (d *Dockerfile) RestoreSources(s *Stage) ([]string, bool) {
	if s == nil || s.Index < 0 || s.Index >= len(d.Stages) {
		return nil, false
	}
	stages, err := d.instructionStages()
	if err != nil {
		return nil, false
	}
	var chain []int
	for i := s.Index; i >= 0; i = d.Stages[i].Parent {
		chain = append([]int{i}, chain...)
	}
	var globs []string
	for _, i := range chain {
		for _, c := range stages[i].Commands {
			var sources, excludes []string
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					continue
				}
				sources, excludes = c.SourcePaths, c.ExcludePatterns
			case *instructions.AddCommand:
				sources, excludes = c.SourcePaths, c.ExcludePatterns
			case *instructions.RunCommand:
				mounts := bindSources(c)
				if len(globs) == 0 && len(mounts) == 0 {
					continue // a RUN before anything of the context is copied
				}
				for _, m := range mounts {
					if wholeSource(m) {
						return nil, false
					}
				}
				g, ok := sourceGlobs(mounts, nil)
				if !ok {
					return nil, false
				}
				return append(globs, g...), true
			default:
				continue
			}
			if classifySources(sources, excludes) == wholeContext {
				return nil, false
			}
			g, ok := sourceGlobs(sources, excludes)
			if !ok {
				return nil, false
			}
			globs = append(globs, g...)
		}
	}
	return nil, false
}

// sourceGlobs are the globs of a COPY or ADD's sources (remote ones left
// out) and, as "!" globs, its excludes; false when one is no glob.
func sourceGlobs(sources, excludes []string) ([]string, bool) {
	var globs []string
	for _, src := range sources {
		if isRemote(src) {
			continue
		}
		g, ok := sourceGlob(src)
		if !ok {
			return nil, false
		}
		globs = append(globs, g)
	}
	for _, ex := range excludes {
		g, ok := sourceGlob(ex)
		if !ok {
			return nil, false
		}
		globs = append(globs, "!"+g)
	}
	return globs, true
}

// sourceGlob turns a COPY source into a glob relative to the context:
// "./go.mod" is "go.mod", "/src/" is "src", "." is "**". It returns false
// for a source with a variable or a heredoc, whose files cannot be told
// here.
func sourceGlob(src string) (string, bool) {
	if strings.ContainsAny(src, "$") || strings.HasPrefix(src, "<<") {
		return "", false
	}
	g := strings.TrimPrefix(path.Clean("/"+src), "/")
	if g == "" {
		g = "**"
	}
	return g, true
}

// bindSources are the context paths a RUN bind-mounts; a bind mount with
// no source mounts the whole context, "/".
func bindSources(c *instructions.RunCommand) []string {
	// As in narrowMount: keep the words of --mount as written.
	if err := c.Expand(func(word string) (string, error) { return word, nil }); err != nil {
		return nil
	}
	var out []string
	for _, m := range instructions.GetMounts(c) {
		if m.Type == instructions.MountTypeBind && m.From == "" {
			out = append(out, "/"+m.Source)
		}
	}
	return out
}
