package buildcontext

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moby/go-archive"
	"github.com/moby/go-archive/compression"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is a build context directory as the engine receives it: a tar of
// the directory without the paths its ignore file excludes.
//
// With a tar body BuildKit applies no excludes of its own, so the ignore file
// is applied here, with the same matcher the docker CLI uses.
type Context struct {
	dir        string // absolute, symbolic links resolved
	dockerfile []byte
	dfName     string // slash-separated path of the Dockerfile inside the tar
	dfPath     string // the Dockerfile's absolute path
	dfOutside  bool   // the Dockerfile is not in dir: Tar adds it as dfName
	dfModTime  time.Time
	ignoreFile string   // the ignore file read, "" when there is none
	excludes   []string // the patterns handed to the tar writer

	mu   sync.Mutex // guards pm, which is not safe for concurrent use, and dirs
	pm   *patternmatcher.PatternMatcher
	dirs map[string]dirMatch // match results of directories, by real path

	rootOnce sync.Once
	root     *os.Root // the context directory, opened once for FS
	rootErr  error
	// plain holds the real paths of directories found to be real (not
	// links) and carried by the tar, so that walking a deep tree through FS
	// checks each directory once, not once per file below it.
	plain sync.Map
}

// Close releases what FS holds open. The Context's Tar and FS may not be
// used after it.
func (c *Context) Close() error {
	if c.root != nil {
		return c.root.Close()
	}
	return nil
}

type dirMatch struct {
	vis visibility
	mi  patternmatcher.MatchInfo
}

// visibility is how the tar treats a path.
type visibility int

const (
	hidden  visibility = iota // not in the tar, nor anything below it
	implied                   // an excluded directory the tar walks into for a "!" exception: not an entry itself
	visible                   // an entry of the tar
)

// errOutsideContext is returned for a symbolic link whose target lies outside
// the context; the tar carries such a link as a link and never its target.
var errOutsideContext = errors.New("symbolic link points outside the build context")

// maxSymlinks bounds the links followed in one path, as Linux does.
const maxSymlinks = 40

// Open opens the context directory dir for a build with the Dockerfile
// at dockerfile (default <dir>/Dockerfile; a relative path is relative to the
// working directory, as with docker build --file). The ignore file is
// <Dockerfile>.dockerignore next to the Dockerfile when it exists, as in
// BuildKit, else <dir>/.dockerignore. Every file the build would send is
// checked to be readable, so that an unreadable file fails here, with its
// name, and not as a silently truncated context.
func Open(dir, dockerfile string) (*Context, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("opening build context: %s is not a directory", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening build context %s: %w", dir, err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("opening build context: %w", err)
	}
	c := &Context{dir: abs, dirs: map[string]dirMatch{}}

	if dockerfile == "" {
		dockerfile = filepath.Join(abs, "Dockerfile")
	}
	dfPath, err := filepath.Abs(dockerfile)
	if err != nil {
		return nil, fmt.Errorf("opening Dockerfile %s: %w", dockerfile, err)
	}
	dfInfo, err := os.Stat(dfPath)
	if err != nil {
		return nil, fmt.Errorf("opening Dockerfile: %w", err)
	}
	if !dfInfo.Mode().IsRegular() {
		return nil, fmt.Errorf("opening Dockerfile: %s is not a regular file", dfPath)
	}
	c.dfPath = dfPath
	if c.dockerfile, err = os.ReadFile(dfPath); err != nil {
		return nil, fmt.Errorf("reading Dockerfile: %w", err)
	}
	c.dfModTime = dfInfo.ModTime().Truncate(time.Second)

	patterns, err := c.readIgnoreFile(dfPath)
	if err != nil {
		return nil, err
	}
	c.excludes = patterns
	if c.pm, err = patternmatcher.New(patterns); err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.ignoreFile, err)
	}

	dfReal, err := filepath.EvalSymlinks(dfPath)
	if err != nil {
		return nil, fmt.Errorf("opening Dockerfile: %w", err)
	}
	if rel, err := filepath.Rel(abs, dfReal); err == nil && filepath.IsLocal(rel) {
		c.dfName = filepath.ToSlash(rel)
		// Like the docker CLI, send the Dockerfile even when the patterns
		// exclude it: the build reads it from the tar.
		if c.classify(c.dfName, false) != visible {
			c.excludes = append(slices.Clip(patterns), "!"+escapePattern(rel))
			if c.pm, err = patternmatcher.New(c.excludes); err != nil {
				return nil, fmt.Errorf("reading %s: %w", c.ignoreFile, err)
			}
			c.dirs = map[string]dirMatch{}
			if c.classify(c.dfName, false) != visible {
				return nil, fmt.Errorf("opening build context: %s excludes the Dockerfile %s and it cannot be re-included; remove the pattern that excludes it", c.ignoreFile, c.dfName)
			}
		}
	} else {
		c.dfOutside = true
		c.dfName = c.outsideName()
	}

	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// readIgnoreFile reads the patterns of the ignore file that applies to the
// Dockerfile at dfPath.
func (c *Context) readIgnoreFile(dfPath string) ([]string, error) {
	for _, name := range []string{dfPath + ".dockerignore", filepath.Join(c.dir, ".dockerignore")} {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading ignore file: %w", err)
		}
		defer f.Close()
		patterns, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		c.ignoreFile = name
		return patterns, nil
	}
	return nil, nil
}

// outsideName is the name under which a Dockerfile from outside the context
// is added to the tar. It derives from the content, not from chance as in the
// docker CLI, so that an unchanged Dockerfile leaves COPY . . cached.
func (c *Context) outsideName() string {
	sum := sha256.Sum256(c.dockerfile)
	base := ".dockerfile." + hex.EncodeToString(sum[:6])
	name := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(filepath.Join(c.dir, name)); errors.Is(err, fs.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// check walks the context as the tar will and opens every regular file, as
// the docker CLI does before a build: the tar writer only logs the files it
// cannot read.
func (c *Context) check() error {
	fsys := c.FS()
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := fsys.Open(name)
		if err != nil {
			return err
		}
		return f.Close()
	})
	if err != nil {
		return fmt.Errorf("checking build context %s: %w", c.dir, err)
	}
	return nil
}

// Dir is the context directory, absolute, with symbolic links resolved.
func (c *Context) Dir() string { return c.dir }

// Dockerfile returns the Dockerfile's content, as read when the context was
// opened.
func (c *Context) Dockerfile() []byte { return c.dockerfile }

// DockerfileName is the Dockerfile's path inside the tar (slash-separated),
// for ImageBuildOptions.Dockerfile.
func (c *Context) DockerfileName() string { return c.dfName }

// Tar streams the context as an uncompressed tar, written as it is read.
// Entries are owned by uid and gid 0; symbolic links are entries of their
// own, never followed.
func (c *Context) Tar() (io.ReadCloser, error) {
	rc, err := archive.TarWithOptions(c.dir, &archive.TarOptions{
		ExcludePatterns: c.excludes,
		ChownOpts:       &archive.ChownOpts{UID: 0, GID: 0},
		Compression:     compression.None,
	})
	if err != nil {
		return nil, fmt.Errorf("packing build context %s: %w", c.dir, err)
	}
	if !c.dfOutside {
		return rc, nil
	}
	return archive.ReplaceFileTarWrapper(rc, map[string]archive.TarModifierFunc{
		c.dfName: func(string, *tar.Header, io.Reader) (*tar.Header, []byte, error) {
			return &tar.Header{
				Name:     c.dfName,
				Typeflag: tar.TypeReg,
				Mode:     0o644,
				ModTime:  c.dfModTime,
				Format:   tar.FormatPAX,
			}, c.dockerfile, nil
		},
	}), nil
}

// FS returns the context as the tar carries it: excluded paths are absent,
// symbolic links are links (ReadLink, Lstat), and a Dockerfile from outside
// the context appears under DockerfileName. Besides the tar's entries it
// holds only the directories the tar leaves implicit above an entry, which
// happens when a "!" exception re-includes a path inside an excluded
// directory. FileInfo.Sys is nil: the tar's uid and gid are always 0.
//
// Open follows a symbolic link only to a path the tar carries; it never opens
// anything outside the context.
func (c *Context) FS() fs.FS { return contextFS{c} }

// classify returns how the tar treats the real, slash-separated path p, the
// way go-archive's TarWithOptions decides while it walks: each path is
// matched with the results of its parent directory, and an excluded
// directory is still walked when an exception pattern lies below it.
func (c *Context) classify(p string, isDir bool) visibility {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.classifyLocked(p, isDir)
}

func (c *Context) classifyLocked(p string, isDir bool) visibility {
	if isDir {
		if m, ok := c.dirs[p]; ok {
			return m.vis
		}
	}
	var parent patternmatcher.MatchInfo
	if dir := path.Dir(p); dir != "." {
		if c.classifyLocked(dir, true) == hidden {
			return hidden
		}
		parent = c.dirs[dir].mi
	}
	rel := filepath.FromSlash(p)
	skip, mi, err := c.pm.MatchesUsingParentResults(rel, parent)
	vis := visible
	switch {
	case err != nil:
		vis = hidden
	case skip:
		vis = hidden
		if isDir && c.pm.Exclusions() {
			for _, pat := range c.pm.Patterns() {
				if pat.Exclusion() && strings.HasPrefix(pat.String()+string(filepath.Separator), rel+string(filepath.Separator)) {
					vis = implied
					break
				}
			}
		}
	}
	if isDir {
		c.dirs[p] = dirMatch{vis: vis, mi: mi}
	}
	return vis
}

// escapePattern quotes the pattern metacharacters in a file name.
func escapePattern(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// contextFS is the fs.FS of a Context.
type contextFS struct{ c *Context }

var (
	_ fs.ReadDirFS  = contextFS{}
	_ fs.ReadLinkFS = contextFS{}
	_ fs.StatFS     = contextFS{}
)

// node is what a name resolves to.
type node struct {
	real    string // real path inside the context, slash-separated; "." for the root
	info    fs.FileInfo
	virtual bool // the Dockerfile added from outside the context
}

// resolve finds what name refers to, following symbolic links inside the
// context (the last element too when follow is set). Every path it passes
// through must be one the tar carries.
func (c *Context) resolve(root *os.Root, op, name string, follow bool) (node, error) {
	if !fs.ValidPath(name) {
		return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		fi, err := root.Lstat(".")
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: unwrapPathError(err)}
		}
		return node{real: ".", info: fi}, nil
	}
	if c.dfOutside && name == c.dfName {
		return node{real: name, info: c.virtualInfo(), virtual: true}, nil
	}
	parts := strings.Split(name, "/")
	cur := ""
	links := 0
	for len(parts) > 0 {
		elem := parts[0]
		parts = parts[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			if cur == "" {
				return node{}, &fs.PathError{Op: op, Path: name, Err: errOutsideContext}
			}
			if cur = path.Dir(cur); cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, elem)
		last := len(parts) == 0
		if _, ok := c.plain.Load(next); ok && !last {
			cur = next
			continue
		}
		fi, err := c.lstat(root, next)
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: unwrapPathError(err)}
		}
		if fi.Mode().Type() == fs.ModeSocket || !c.carried(root, next, fi, last) {
			return node{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if fi.Mode().Type() == fs.ModeSymlink && (!last || follow) {
			if links++; links > maxSymlinks {
				return node{}, &fs.PathError{Op: op, Path: name, Err: syscall.ELOOP}
			}
			target, err := root.Readlink(next)
			if err != nil {
				return node{}, &fs.PathError{Op: op, Path: name, Err: unwrapPathError(err)}
			}
			if filepath.IsAbs(target) || strings.HasPrefix(target, "/") {
				return node{}, &fs.PathError{Op: op, Path: name, Err: errOutsideContext}
			}
			parts = append(strings.Split(filepath.ToSlash(target), "/"), parts...)
			continue
		}
		if !last && !fi.IsDir() {
			return node{}, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		if fi.IsDir() {
			c.plain.Store(next, true)
		}
		cur = next
	}
	if cur == "" {
		fi, err := root.Lstat(".")
		if err != nil {
			return node{}, &fs.PathError{Op: op, Path: name, Err: unwrapPathError(err)}
		}
		return node{real: ".", info: fi}, nil
	}
	fi, err := c.lstat(root, cur)
	if err != nil {
		return node{}, &fs.PathError{Op: op, Path: name, Err: unwrapPathError(err)}
	}
	return node{real: cur, info: fi}, nil
}

// isPlain reports whether every directory from the context down to dir has
// been found to be a real directory (no link) the tar carries.
func (c *Context) isPlain(dir string) bool {
	if dir == "." {
		return true
	}
	_, ok := c.plain.Load(dir)
	return ok
}

// lstat describes the real path p. Below a plain directory no link can lead
// out of the context, so the kernel walks the path in one call; elsewhere
// os.Root checks each step. (The tar writer itself walks plain paths.)
func (c *Context) lstat(root *os.Root, p string) (fs.FileInfo, error) {
	if c.isPlain(path.Dir(p)) {
		return os.Lstat(filepath.Join(c.dir, filepath.FromSlash(p)))
	}
	return root.Lstat(p)
}

// open opens the real path p, never following a final link.
func (c *Context) open(root *os.Root, p string) (*os.File, error) {
	if p == "." || c.isPlain(path.Dir(p)) {
		return os.OpenFile(filepath.Join(c.dir, filepath.FromSlash(p)), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	}
	return root.Open(p)
}

// carried reports whether the tar holds p or, for a directory on the way to
// a deeper name, walks through it.
func (c *Context) carried(root *os.Root, p string, fi fs.FileInfo, last bool) bool {
	switch c.classify(p, fi.IsDir()) {
	case visible:
		return true
	case implied:
		return !last || c.holdsEntries(root, p)
	}
	return false
}

// holdsEntries reports whether the implied directory p has an entry of the
// tar below it; if not, the tar has no trace of it.
func (c *Context) holdsEntries(root *os.Root, p string) bool {
	ents, err := c.readDirNames(root, p)
	if err != nil {
		return false
	}
	for _, e := range ents {
		child := path.Join(p, e)
		fi, err := c.lstat(root, child)
		if err != nil || fi.Mode().Type() == fs.ModeSocket {
			continue
		}
		switch c.classify(child, fi.IsDir()) {
		case visible:
			return true
		case implied:
			if c.holdsEntries(root, child) {
				return true
			}
		}
	}
	return false
}

func (c *Context) readDirNames(root *os.Root, p string) ([]string, error) {
	f, err := c.open(root, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// readDir lists the real directory p as the tar carries it. The entries'
// types come from the directory listing itself; their FileInfo is read only
// when asked for, so a walk costs no stat per entry.
func (c *Context) readDir(root *os.Root, p string) ([]fs.DirEntry, error) {
	f, err := c.open(root, p)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, unwrapPathError(err)
	}
	var out []fs.DirEntry
	for _, e := range ents {
		if e.Type() == fs.ModeSocket {
			continue // the tar writer cannot hold sockets and skips them
		}
		child := path.Join(p, e.Name())
		switch c.classify(child, e.IsDir()) {
		case hidden:
			continue
		case implied:
			if !c.holdsEntries(root, child) {
				continue
			}
		}
		out = append(out, ownerless{e})
	}
	if p == "." && c.dfOutside {
		out = append(out, fs.FileInfoToDirEntry(c.virtualInfo()))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// ownerless is a directory entry whose FileInfo names no owner: the tar
// always says uid/gid 0.
type ownerless struct{ fs.DirEntry }

func (e ownerless) Info() (fs.FileInfo, error) {
	fi, err := e.DirEntry.Info()
	if err != nil {
		return nil, err
	}
	return entryInfo{fi, e.Name()}, nil
}

func (c *Context) virtualInfo() fs.FileInfo {
	return virtualInfo{name: c.dfName, size: int64(len(c.dockerfile)), mtime: c.dfModTime}
}

func (f contextFS) withRoot(op, name string, fn func(*os.Root) error) error {
	c := f.c
	c.rootOnce.Do(func() { c.root, c.rootErr = os.OpenRoot(c.dir) })
	if c.rootErr != nil {
		return &fs.PathError{Op: op, Path: name, Err: c.rootErr}
	}
	return fn(c.root)
}

// openPlainFile opens a regular file the tar carries in a plain directory
// (one reached without links) with no more system calls than os.DirFS: the
// open itself refuses a final link, and the open file tells its type. It
// reports false for anything else, which the general path then handles
// (and explains, when it is an error).
func (c *Context) openPlainFile(name string) (fs.File, bool) {
	if !fs.ValidPath(name) || name == "." || (c.dfOutside && name == c.dfName) || !c.isPlain(path.Dir(name)) {
		return nil, false
	}
	osf, err := os.OpenFile(filepath.Join(c.dir, filepath.FromSlash(name)), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	fi, err := osf.Stat()
	if err != nil || !fi.Mode().IsRegular() || c.classify(name, false) != visible {
		osf.Close()
		return nil, false
	}
	return &regularFile{File: osf, info: entryInfo{fi, path.Base(name)}}, true
}

// Open opens name, following symbolic links that stay inside the context.
// Anything but a regular file or a directory opens as an empty file, as the
// tar carries no content for it.
func (f contextFS) Open(name string) (fs.File, error) {
	if file, ok := f.c.openPlainFile(name); ok {
		return file, nil
	}
	var file fs.File
	err := f.withRoot("open", name, func(root *os.Root) error {
		n, err := f.c.resolve(root, "open", name, true)
		if err != nil {
			return err
		}
		info := entryInfo{n.info, path.Base(name)}
		switch {
		case n.virtual:
			file = &memFile{Reader: bytes.NewReader(f.c.dockerfile), info: n.info}
		case n.info.IsDir():
			ents, err := f.c.readDir(root, n.real)
			if err != nil {
				return &fs.PathError{Op: "open", Path: name, Err: err}
			}
			file = &dirFile{info: info, entries: ents}
		case n.info.Mode().IsRegular():
			osf, err := f.c.open(root, n.real)
			if err != nil {
				return &fs.PathError{Op: "open", Path: name, Err: unwrapPathError(err)}
			}
			file = &regularFile{File: osf, info: info}
		default:
			file = &memFile{Reader: bytes.NewReader(nil), info: info}
		}
		return nil
	})
	return file, err
}

// ReadDir lists the directory name as the tar carries it, sorted by name.
func (f contextFS) ReadDir(name string) ([]fs.DirEntry, error) {
	var ents []fs.DirEntry
	err := f.withRoot("readdir", name, func(root *os.Root) error {
		n, err := f.c.resolve(root, "readdir", name, true)
		if err != nil {
			return err
		}
		if !n.info.IsDir() {
			return &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
		}
		if ents, err = f.c.readDir(root, n.real); err != nil {
			return &fs.PathError{Op: "readdir", Path: name, Err: err}
		}
		return nil
	})
	return ents, err
}

// Stat describes name, following symbolic links that stay inside the
// context.
func (f contextFS) Stat(name string) (fs.FileInfo, error) { return f.stat("stat", name, true) }

// Lstat describes name without following a final symbolic link.
func (f contextFS) Lstat(name string) (fs.FileInfo, error) { return f.stat("lstat", name, false) }

func (f contextFS) stat(op, name string, follow bool) (fs.FileInfo, error) {
	var info fs.FileInfo
	err := f.withRoot(op, name, func(root *os.Root) error {
		n, err := f.c.resolve(root, op, name, follow)
		if err != nil {
			return err
		}
		if n.virtual {
			info = n.info
		} else {
			info = entryInfo{n.info, path.Base(name)}
		}
		return nil
	})
	return info, err
}

// ReadLink returns the text of the symbolic link name, wherever it points.
func (f contextFS) ReadLink(name string) (string, error) {
	var target string
	err := f.withRoot("readlink", name, func(root *os.Root) error {
		n, err := f.c.resolve(root, "readlink", name, false)
		if err != nil {
			return err
		}
		if n.virtual || n.info.Mode().Type() != fs.ModeSymlink {
			return &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
		}
		if target, err = root.Readlink(n.real); err != nil {
			return &fs.PathError{Op: "readlink", Path: name, Err: unwrapPathError(err)}
		}
		return nil
	})
	return target, err
}

// unwrapPathError drops the os.PathError around err, whose path is the real
// one, so that errors name the path as the caller asked for it.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// entryInfo is a FileInfo under the name it was asked for, with no Sys: the
// host's owner is not what the tar carries.
type entryInfo struct {
	fs.FileInfo
	name string
}

func (i entryInfo) Name() string { return i.name }
func (i entryInfo) Sys() any     { return nil }

type virtualInfo struct {
	name  string
	size  int64
	mtime time.Time
}

func (i virtualInfo) Name() string       { return i.name }
func (i virtualInfo) Size() int64        { return i.size }
func (i virtualInfo) Mode() fs.FileMode  { return 0o644 }
func (i virtualInfo) ModTime() time.Time { return i.mtime }
func (i virtualInfo) IsDir() bool        { return false }
func (i virtualInfo) Sys() any           { return nil }

type regularFile struct {
	*os.File
	info fs.FileInfo
}

func (f *regularFile) Stat() (fs.FileInfo, error) { return f.info, nil }

type memFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }

type dirFile struct {
	info    fs.FileInfo
	entries []fs.DirEntry
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: syscall.EISDIR}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return slices.Clone(rest[:n]), nil
}

// Excludes are the ignore patterns the context applies, as the session's
// filter takes them.
func (c *Context) Excludes() []string { return slices.Clone(c.excludes) }

// DockerfilePath is the Dockerfile's absolute path.
func (c *Context) DockerfilePath() string { return c.dfPath }
