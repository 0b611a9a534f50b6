package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/moby/patternmatcher"
)

// dependencyKeyVersion names the encoding DependencyKey hashes. Change it
// with any change to what is hashed or how, so that keys made by different
// encodings can never be mistaken for one another.
//
// Version 1, with the primitives of encoder (a string is its length as 8
// bytes big-endian, then its bytes; a number is 8 bytes big-endian), as
// encodeDependencyKey writes it:
//
//	string "msb-dependency-key/v1"
//	string "files", number of files, then for each file in path order:
//	    string path (slash-separated, relative to the context)
//	    string "file": number 1 if any executable bit is set else 0, string SHA-256 of the content
//	    or string "symlink": number 0, string the link's text
//	string "stage-source", string the stage's source
//	string "build-args", number of arguments, then string name, string value in name order
//	string "platform", string platform
//	string "salt", string salt
const dependencyKeyVersion = "msb-dependency-key/v1"

// Ecosystem is a family of projects and the files that declare their
// dependencies.
type Ecosystem struct {
	Name string
	// Patterns match a file's base name anywhere in the context (path.Match
	// syntax); a pattern with a slash matches the end of the file's path.
	Patterns []string
}

// Ecosystems are the ecosystems DependencyKey detects when no files are
// given.
var Ecosystems = []Ecosystem{
	{Name: ".NET", Patterns: []string{"*.csproj", "*.fsproj", "*.vbproj", "*.sln", "*.slnx", "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "NuGet.config", "nuget.config", "packages.lock.json", "global.json", "dotnet-tools.json"}},
	{Name: "Go", Patterns: []string{"go.mod", "go.sum", "go.work", "go.work.sum"}},
	{Name: "Node", Patterns: []string{"package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc", ".yarnrc.yml", "bun.lockb"}},
	{Name: "Python", Patterns: []string{"requirements*.txt", "pyproject.toml", "poetry.lock", "uv.lock", "Pipfile", "Pipfile.lock", "setup.py", "setup.cfg"}},
	{Name: "Java", Patterns: []string{"pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "gradle.lockfile", "gradle.properties", "gradle/wrapper/gradle-wrapper.properties", "gradle/libs.versions.toml"}},
	{Name: "Rust", Patterns: []string{"Cargo.toml", "Cargo.lock", "rust-toolchain.toml"}},
}

// Matches reports whether the slash-separated path p, relative to the
// context, is one of the ecosystem's dependency files.
func (e Ecosystem) Matches(p string) bool {
	base := path.Base(p)
	for _, pat := range e.Patterns {
		if strings.Contains(pat, "/") {
			if p == pat || strings.HasSuffix(p, "/"+pat) {
				return true
			}
			continue
		}
		if ok, _ := path.Match(pat, base); ok {
			return true
		}
	}
	return false
}

// DependencyInput is what the dependency key of a build stage is made of.
type DependencyInput struct {
	// FS is the build context as the engine receives it, after .dockerignore
	// (build.Context.FS()).
	FS fs.FS
	// Files are the cache-key-files globs, relative to the context, with
	// .dockerignore semantics ("**", "*", "?", a leading "!" to leave files
	// out, a directory standing for everything below it). Empty: the
	// dependency files of every ecosystem in Ecosystems are detected, among
	// the files Sources match when there are any.
	Files []string
	// Sources are the globs, as Files, of the part of the context the build
	// stage's dependency restore can see (dockerfile.RestoreSources): the
	// files they match, narrowed to the dependency files of Ecosystems when
	// they hold any, make the key. Empty: the whole context. Files, when
	// given, wins.
	Sources []string
	// StageSource is the build stage's Dockerfile text
	// (build.Dockerfile.Source).
	StageSource string
	// BuildArgs are the build arguments the build stage can see.
	BuildArgs map[string]string
	// Platform is the platform built for, such as linux/amd64.
	Platform string
	// Salt is any text the user sets to force a new key.
	Salt string
}

// Key is a dependency key and what it was made of.
type Key struct {
	// Hex is the full SHA-256, in hex.
	Hex string
	// Files are the dependency files hashed: slash-separated paths relative
	// to the context, sorted. Empty when the context holds none.
	Files []string
	// Ecosystems are the ecosystems whose files were detected, sorted; empty
	// when the files came from DependencyInput.Files.
	Ecosystems []string
	// Restore is true when the files came from DependencyInput.Sources.
	Restore bool
}

// Short is the start of the key used in tags.
func (k Key) Short() string {
	if len(k.Hex) < 16 {
		return k.Hex
	}
	return k.Hex[:16]
}

// InputError is a problem with an input of the action; its message names the
// input, as action.InputError does, for the caller to report as such.
type InputError struct {
	Input string
	Msg   string
}

func (e *InputError) Error() string { return "input " + e.Input + ": " + e.Msg }

// DependencyKey computes the key of the build stage's cache: a SHA-256 over
// the path, content (a symbolic link's text) and executable bit of every
// dependency file, the stage's source, its build arguments, the platform and
// the salt. File times, owners and where the context lies play no part, so
// the same project gives the same key on any runner, and a change to a source
// file that is not a dependency file leaves it as it was.
//
// The files are the ones in.Files names; else those of the part of the
// context the restore sees (in.Sources), narrowed to dependency files where
// their ecosystem is known; else the dependency files of the whole context.
// So in a monorepo another service's lock file leaves this service's key.
//
// Directories named .git are not searched. A glob of in.Files that matches no
// file is an *InputError: it would otherwise leave the key constant.
func DependencyKey(in DependencyInput) (Key, error) {
	if in.FS == nil {
		return Key{}, errors.New("computing dependency key: no build context")
	}
	if len(in.Files) == 0 && len(in.Sources) > 0 {
		return restoreKey(in)
	}
	sel, err := newSelector(in.Files)
	if err != nil {
		return Key{}, err
	}
	files, err := selectFiles(in.FS, sel)
	if err != nil {
		return Key{}, err
	}
	k, err := encodeDependencyKey(in, files)
	if err != nil {
		return Key{}, err
	}
	k.Ecosystems = sel.ecosystems()
	return k, nil
}

// restoreKey keys the files in.Sources match, narrowed to the dependency
// files among them when there are any.
func restoreKey(in DependencyInput) (Key, error) {
	pm, err := patternmatcher.New(in.Sources)
	if err != nil {
		return Key{}, fmt.Errorf("reading the build stage's COPY sources: %w", err)
	}
	files, err := selectFiles(in.FS, sourcesSelector{pm})
	if err != nil {
		return Key{}, err
	}
	det := &detector{}
	var deps []depFile
	for _, f := range files {
		if ok, _ := det.selects(f.path); ok {
			deps = append(deps, f)
		}
	}
	if len(deps) > 0 {
		files = deps
	}
	k, err := encodeDependencyKey(in, files)
	if err != nil {
		return Key{}, err
	}
	k.Ecosystems = det.ecosystems()
	k.Restore = true
	return k, nil
}

// sourcesSelector selects the files COPY sources match: a directory
// stands for everything below it.
type sourcesSelector struct {
	pm *patternmatcher.PatternMatcher
}

func (s sourcesSelector) selects(p string) (bool, error) {
	ok, err := s.pm.MatchesOrParentMatches(p)
	return ok && err == nil, nil
}

func (sourcesSelector) check() error         { return nil }
func (sourcesSelector) ecosystems() []string { return nil }

// newSelector returns the globs of files when there are any, else a detector
// of every ecosystem's dependency files.
func newSelector(files []string) (selector, error) {
	g, err := newGlobs(files)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return &detector{}, nil // not a nil *globs inside the interface
	}
	return g, nil
}

// selectFiles walks fsys for the regular files and symbolic links that sel
// selects, leaving out directories named .git, and returns them in path
// order. It fails when sel finds, once the walk is over, that a glob matched
// nothing.
func selectFiles(fsys fs.FS, sel selector) ([]depFile, error) {
	var files []depFile
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != "." {
				return fs.SkipDir
			}
			return nil
		}
		t := d.Type()
		if !t.IsRegular() && t&fs.ModeSymlink == 0 {
			return nil // the tar carries no content for these
		}
		ok, err := sel.selects(p)
		if ok {
			files = append(files, depFile{path: p, symlink: t&fs.ModeSymlink != 0})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading build context: %w", err)
	}
	if err := sel.check(); err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b depFile) int { return strings.Compare(a.path, b.path) })
	return files, nil
}

// encodeDependencyKey hashes files, read from in.FS, and the rest of in as
// dependencyKeyVersion writes them down. The Key it returns has no
// Ecosystems: only the selector knows them.
func encodeDependencyKey(in DependencyInput, files []depFile) (Key, error) {
	h := sha256.New()
	e := &encoder{h: h}
	e.string(dependencyKeyVersion)
	if err := encodeDepFiles(e, in.FS, files); err != nil {
		return Key{}, err
	}
	e.field("stage-source", in.StageSource)
	e.stringMap("build-args", in.BuildArgs)
	e.field("platform", in.Platform)
	e.field("salt", in.Salt)
	k := Key{Hex: hex.EncodeToString(h.Sum(nil)), Files: make([]string, 0, len(files))}
	for _, f := range files {
		k.Files = append(k.Files, f.path)
	}
	return k, nil
}

// encodeDepFiles writes the "files" field of the dependency key: the count
// of files, then each file's path and what it holds, in the order given.
func encodeDepFiles(e *encoder, fsys fs.FS, files []depFile) error {
	e.string("files")
	e.uint(uint64(len(files)))
	content := sha256.New()
	buf := make([]byte, 32<<10)
	var digest [sha256.Size]byte
	for _, f := range files {
		e.string(f.path)
		if f.symlink {
			target, err := fs.ReadLink(fsys, f.path)
			if err != nil {
				return fmt.Errorf("reading dependency file: %w", err)
			}
			e.string("symlink")
			e.uint(0)
			e.string(target)
			continue
		}
		info, _, err := hashFile(context.Background(), fsys, f.path, content, buf, &digest)
		if err != nil {
			return fmt.Errorf("reading dependency file: %w", err)
		}
		e.string("file")
		e.uint(boolUint(info.Mode()&0o111 != 0))
		e.bytes(digest[:])
	}
	return nil
}

type depFile struct {
	path    string
	symlink bool
}

func boolUint(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// selector picks the dependency files out of the context.
type selector interface {
	selects(p string) (bool, error)
	check() error
	ecosystems() []string
}

// detector selects the dependency files of every known ecosystem.
type detector struct{ found []string }

func (d *detector) selects(p string) (bool, error) {
	ok := false
	for _, e := range Ecosystems {
		if e.Matches(p) {
			ok = true
			if !slices.Contains(d.found, e.Name) {
				d.found = append(d.found, e.Name)
			}
		}
	}
	return ok, nil
}

func (d *detector) check() error { return nil }

func (d *detector) ecosystems() []string {
	slices.Sort(d.found)
	return d.found
}

// globs selects the files that the cache-key-files globs match.
type globs struct {
	all   *patternmatcher.PatternMatcher
	each  []*patternmatcher.PatternMatcher // one per globs that adds files
	names []string                         // those globs as given
	hit   []bool
}

// newGlobs compiles the cache-key-files globs; it returns nil when there are
// none.
func newGlobs(patterns []string) (*globs, error) {
	var clean []string
	g := &globs{}
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		clean = append(clean, p)
		if strings.HasPrefix(p, "!") {
			continue
		}
		pm, err := patternmatcher.New([]string{p})
		if err != nil {
			return nil, &InputError{Input: "cache-key-files", Msg: fmt.Sprintf("%q is not a valid glob: %v", p, err)}
		}
		g.each = append(g.each, pm)
		g.names = append(g.names, p)
	}
	if len(clean) == 0 {
		return nil, nil
	}
	all, err := patternmatcher.New(clean)
	if err != nil {
		return nil, &InputError{Input: "cache-key-files", Msg: fmt.Sprintf("%q is not a valid list of globs: %v", strings.Join(clean, ", "), err)}
	}
	g.all = all
	g.hit = make([]bool, len(g.each))
	return g, nil
}

func (g *globs) selects(p string) (bool, error) {
	for i, pm := range g.each {
		if g.hit[i] {
			continue
		}
		if ok, _ := pm.MatchesOrParentMatches(p); ok {
			g.hit[i] = true
		}
	}
	ok, err := g.all.MatchesOrParentMatches(p)
	if err != nil {
		return false, &InputError{Input: "cache-key-files", Msg: fmt.Sprintf("matching %s: %v", p, err)}
	}
	return ok, nil
}

func (g *globs) check() error {
	for i, ok := range g.hit {
		if !ok {
			return &InputError{Input: "cache-key-files", Msg: fmt.Sprintf("%q matches no file in the build context (after .dockerignore), which would leave the cache key constant: fix the glob (paths are relative to the context, e.g. **/*.csproj) or leave cache-key-files empty to detect the dependency files", g.names[i])}
		}
	}
	return nil
}

func (g *globs) ecosystems() []string { return nil }
