package buildcontext

import (
	"bytes"
	"context"
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
	"syscall"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/tonistiigi/fsutil"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// Context is a build context directory as the engine receives it: the
// directory without the paths its ignore file excludes.
//
// Which files that is, is decided once, by fsutil's filter (Files), the one
// BuildKit applies to a context it reads over a session. The session serves
// Files as it is, Tar writes it, and FS shows it to the cache keys.
type Context struct {
	dir        string // absolute, symbolic links resolved
	dockerfile []byte
	dfName     string // slash-separated path of the Dockerfile inside the tar
	dfPath     string // the Dockerfile's absolute path
	dfOutside  bool   // the Dockerfile is not in dir: Tar adds it as dfName
	dfModTime  time.Time
	ignoreFile string // the ignore file read, "" when there is none

	files fsutil.FS         // the filtered context: the one decision
	base  fsutil.FS         // the directory unfiltered, to read what files decided to hold
	index map[string]*entry // what a walk of files found at Open, by slash path; "." is the root
}

// Close releases what the Context holds. It holds nothing open today (FS
// opens a file only for the fs.File it returns); callers close it so that it
// may.
func (c *Context) Close() error { return nil }

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
	abs, fi, err := resolveDir(dir)
	if err != nil {
		return nil, err
	}
	c := &Context{dir: abs}
	if err := c.readDockerfile(dockerfile); err != nil {
		return nil, err
	}
	excludes, err := c.readIgnoreFile(c.dfPath)
	if err != nil {
		return nil, err
	}
	if excludes, err = c.placeDockerfile(excludes); err != nil {
		return nil, err
	}

	if c.base, err = fsutil.NewFS(abs); err != nil {
		return nil, fmt.Errorf("opening build context: %w", err)
	}
	if c.files, err = fsutil.NewFilterFS(c.base, &fsutil.FilterOpt{ExcludePatterns: excludes, Map: c.mapStat}); err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.ignoreFile, err)
	}
	if err := c.snapshot(fi); err != nil {
		return nil, err
	}
	if !c.dfOutside && c.index[c.dfName] == nil {
		return nil, fmt.Errorf("opening build context: %s excludes the Dockerfile %s and it cannot be re-included; remove the pattern that excludes it", c.ignoreFile, c.dfName)
	}
	return c, nil
}

// resolveDir checks that dir is a directory and returns its absolute path,
// symbolic links resolved, and what Stat tells of it.
func resolveDir(dir string) (string, fs.FileInfo, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", nil, fmt.Errorf("opening build context: %w", err)
	}
	if !fi.IsDir() {
		return "", nil, fmt.Errorf("opening build context: %s is not a directory", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, fmt.Errorf("opening build context %s: %w", dir, err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", nil, fmt.Errorf("opening build context: %w", err)
	}
	return abs, fi, nil
}

// readDockerfile finds the Dockerfile (<dir>/Dockerfile when dockerfile is
// ""), checks that it is a regular file and reads it, with its time.
func (c *Context) readDockerfile(dockerfile string) error {
	if dockerfile == "" {
		dockerfile = filepath.Join(c.dir, "Dockerfile")
	}
	dfPath, err := filepath.Abs(dockerfile)
	if err != nil {
		return fmt.Errorf("opening Dockerfile %s: %w", dockerfile, err)
	}
	dfInfo, err := os.Stat(dfPath)
	if err != nil {
		return fmt.Errorf("opening Dockerfile: %w", err)
	}
	if !dfInfo.Mode().IsRegular() {
		return fmt.Errorf("opening Dockerfile: %s is not a regular file", dfPath)
	}
	c.dfPath = dfPath
	if c.dockerfile, err = os.ReadFile(dfPath); err != nil {
		return fmt.Errorf("reading Dockerfile: %w", err)
	}
	c.dfModTime = dfInfo.ModTime().Truncate(time.Second)
	return nil
}

// placeDockerfile decides where the Dockerfile goes in the tar: at its path
// when it lies inside the context, else under outsideName. It returns the
// ignore file's patterns, excludes, with an exception for the Dockerfile
// when they exclude it.
func (c *Context) placeDockerfile(excludes []string) ([]string, error) {
	pm, err := patternmatcher.New(excludes)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.ignoreFile, err)
	}
	dfReal, err := filepath.EvalSymlinks(c.dfPath)
	if err != nil {
		return nil, fmt.Errorf("opening Dockerfile: %w", err)
	}
	rel, err := filepath.Rel(c.dir, dfReal)
	if err != nil || !filepath.IsLocal(rel) {
		c.dfOutside = true
		c.dfName = c.outsideName()
		return excludes, nil
	}
	c.dfName = filepath.ToSlash(rel)
	// Like the docker CLI, send the Dockerfile even when the patterns
	// exclude it: a build over a tar reads it from the tar.
	if excluded, _ := pm.MatchesOrParentMatches(rel); excluded {
		excludes = append(slices.Clip(excludes), "!"+escapePattern(rel))
	}
	return excludes, nil
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

// mapStat is the filter's Map: every entry is owned by 0:0, as the tar and
// the session say, and sockets are left out. fsutil clears a socket's type
// bit (archive/tar cannot write one), so a socket would otherwise travel as
// an empty regular file that no one can open; only entries that look like
// empty files cost a look at the disk.
func (c *Context) mapStat(p string, st *fstypes.Stat) fsutil.MapResult {
	st.Uid, st.Gid = 0, 0
	if fs.FileMode(st.Mode).IsRegular() && st.Size == 0 && st.Linkname == "" {
		if fi, err := os.Lstat(filepath.Join(c.dir, p)); err == nil && fi.Mode().Type() == fs.ModeSocket {
			return fsutil.MapResultExclude
		}
	}
	return fsutil.MapResultKeep
}

// snapshot walks Files once, records every entry for FS, and opens every
// regular file, as the docker CLI does before a build: a tar writer or a
// session that meets an unreadable file fails late, or only logs it.
func (c *Context) snapshot(rootInfo fs.FileInfo) error {
	root := &entry{name: ".", path: ".", mode: rootInfo.Mode(), mtime: rootInfo.ModTime().UnixNano()}
	c.index = map[string]*entry{".": root}
	err := c.files.Walk(context.Background(), "", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return c.record(p, d)
	})
	if err != nil {
		return fmt.Errorf("checking build context %s: %w", c.dir, err)
	}
	if c.dfOutside {
		c.addOutsideDockerfile(root)
	}
	// The walk yields each directory's entries in name order; sorting again
	// costs little and keeps ReadDir's promise whatever the walk does.
	for _, e := range c.index {
		if len(e.kids) > 1 {
			slices.SortFunc(e.kids, func(a, b *entry) int { return strings.Compare(a.name, b.name) })
		}
	}
	return nil
}

// record adds the entry the walk of Files met at p to the index and to its
// directory, after opening it when it is a regular file. A file gone since
// its directory was read is left out.
func (c *Context) record(p string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*fstypes.Stat)
	if !ok {
		return &fs.PathError{Op: "walk", Path: p, Err: syscall.EBADMSG}
	}
	name := filepath.ToSlash(p)
	parent := c.index[path.Dir(name)]
	if parent == nil {
		return &fs.PathError{Op: "walk", Path: name, Err: errors.New("entry before its directory")}
	}
	e := &entry{
		name:  path.Base(name),
		path:  name,
		mode:  fs.FileMode(st.Mode),
		size:  st.Size,
		mtime: st.ModTime,
	}
	switch {
	case e.mode&fs.ModeSymlink != 0:
		e.link = st.Linkname
	case st.Linkname != "":
		// A hard link to a file seen before: the tar sends a link, the
		// FS shows the file.
		if first := c.index[filepath.ToSlash(st.Linkname)]; first != nil {
			e.size = first.size
		}
	case e.mode.IsRegular():
		rc, err := c.base.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone since the directory was read
		}
		if err != nil {
			return &fs.PathError{Op: "open", Path: name, Err: unwrapPathError(err)}
		}
		rc.Close()
	}
	c.index[name] = e
	parent.kids = append(parent.kids, e)
	return nil
}

// addOutsideDockerfile adds the Dockerfile from outside the context to the
// index and to root's entries, under DockerfileName, as Tar adds it.
func (c *Context) addOutsideDockerfile(root *entry) {
	df := &entry{
		name:    c.dfName,
		path:    c.dfName,
		mode:    0o644,
		size:    int64(len(c.dockerfile)),
		mtime:   c.dfModTime.UnixNano(),
		virtual: true,
		data:    c.dockerfile,
	}
	c.index[c.dfName] = df
	root.kids = append(root.kids, df)
}

// Dir is the context directory, absolute, with symbolic links resolved.
func (c *Context) Dir() string { return c.dir }

// Dockerfile returns the Dockerfile's content, as read when the context was
// opened.
func (c *Context) Dockerfile() []byte { return c.dockerfile }

// DockerfileName is the Dockerfile's path inside the tar (slash-separated),
// for ImageBuildOptions.Dockerfile.
func (c *Context) DockerfileName() string { return c.dfName }

// DockerfilePath is the Dockerfile's absolute path.
func (c *Context) DockerfilePath() string { return c.dfPath }

// Files is the context as BuildKit receives it over a session: the
// directory through fsutil's filter with the ignore file's patterns (and an
// exception for the Dockerfile when they exclude it), entries owned by 0:0,
// symbolic links as links, sockets left out. Tar and FS are made from it.
// It is safe for concurrent walks. A Dockerfile from outside the context is
// not in it: a session serves the Dockerfile's directory on its own.
func (c *Context) Files() fsutil.FS { return c.files }

// Tar streams the context as an uncompressed tar, written as it is read:
// the entries of Files, in walk order, each directory before what it holds,
// owned by uid and gid 0, symbolic links as links, and a second path to a
// file already written as a hard link; then a Dockerfile from outside the
// context under DockerfileName. Closing the reader stops the writer.
func (c *Context) Tar() (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		err := fsutil.WriteTar(ctx, tarFS{c}, pw)
		if err != nil {
			err = fmt.Errorf("packing build context %s: %w", c.dir, err)
		}
		pw.CloseWithError(err)
	}()
	return &tarReader{PipeReader: pr, cancel: cancel}, nil
}

type tarReader struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (r *tarReader) Close() error {
	r.cancel()
	return r.PipeReader.Close()
}

// tarFS is Files with the Dockerfile from outside the context added at the
// end of the walk.
type tarFS struct{ c *Context }

func (t tarFS) Walk(ctx context.Context, target string, fn fs.WalkDirFunc) error {
	if err := t.c.files.Walk(ctx, target, fn); err != nil {
		return err
	}
	if !t.c.dfOutside {
		return nil
	}
	st := &fstypes.Stat{
		Path:    t.c.dfName,
		Mode:    0o644,
		Size:    int64(len(t.c.dockerfile)),
		ModTime: t.c.dfModTime.UnixNano(),
	}
	return fn(t.c.dfName, &fsutil.DirEntryInfo{Stat: st}, nil)
}

func (t tarFS) Open(p string) (io.ReadCloser, error) {
	if t.c.dfOutside && p == t.c.dfName {
		return io.NopCloser(bytes.NewReader(t.c.dockerfile)), nil
	}
	return t.c.files.Open(p)
}

// FS returns the context as the tar carries it: the entries Files held when
// the context was opened (excluded paths absent, symbolic links as links for
// ReadLink and Lstat, a second path to a file as the file), and a Dockerfile
// from outside the context under DockerfileName. A file's content is read
// when it is opened. FileInfo.Sys is nil: the tar's uid and
// gid are always 0. It is safe for concurrent use.
//
// Open follows a symbolic link only to a path the tar carries; it never opens
// anything outside the context.
func (c *Context) FS() fs.FS { return contextFS{c} }

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

// entry is one entry of the context, as the walk of Files found it.
type entry struct {
	name  string // base name; "." for the root
	path  string // slash-separated, relative to the context
	mode  fs.FileMode
	size  int64
	mtime int64    // Unix nanoseconds
	link  string   // a symbolic link's text
	kids  []*entry // a directory's entries, by name
	// virtual marks the Dockerfile from outside the context; data is its
	// content.
	virtual bool
	data    []byte
}

func (e *entry) info(name string) fs.FileInfo { return fileInfo{e: e, name: name} }

// contextFS is the fs.FS of a Context.
type contextFS struct{ c *Context }

var (
	_ fs.ReadDirFS  = contextFS{}
	_ fs.ReadLinkFS = contextFS{}
	_ fs.StatFS     = contextFS{}
)

// resolve finds what name refers to, following symbolic links through
// entries of the context (the last element too when follow is set).
func (c *Context) resolve(op, name string, follow bool) (*entry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	// Entries are recorded under paths without links, so a hit is the
	// entry itself, unless it is a link to follow.
	if e := c.index[name]; e != nil && (!follow || e.mode&fs.ModeSymlink == 0) {
		return e, nil
	}
	parts := strings.Split(name, "/")
	cur := c.index["."]
	links := 0
	for len(parts) > 0 {
		elem := parts[0]
		parts = parts[1:]
		switch elem {
		case "", ".":
			continue
		case "..":
			if cur.path == "." {
				return nil, &fs.PathError{Op: op, Path: name, Err: errOutsideContext}
			}
			cur = c.index[path.Dir(cur.path)]
			continue
		}
		if !cur.mode.IsDir() {
			return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		next := c.index[path.Join(cur.path, elem)]
		if next == nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if next.mode&fs.ModeSymlink != 0 && (len(parts) > 0 || follow) {
			if links++; links > maxSymlinks {
				return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ELOOP}
			}
			if strings.HasPrefix(next.link, "/") || filepath.IsAbs(next.link) {
				return nil, &fs.PathError{Op: op, Path: name, Err: errOutsideContext}
			}
			parts = append(strings.Split(filepath.ToSlash(next.link), "/"), parts...)
			continue
		}
		cur = next
	}
	return cur, nil
}

// Open opens name, following symbolic links that stay inside the context.
// Anything but a regular file or a directory opens as an empty file, as the
// tar carries no content for it.
func (f contextFS) Open(name string) (fs.File, error) {
	e, err := f.c.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	info := e.info(path.Base(name))
	switch {
	case e.virtual:
		return &memFile{Reader: bytes.NewReader(e.data), info: info}, nil
	case e.mode.IsDir():
		return &dirFile{info: info, entries: e.kids}, nil
	case e.mode.IsRegular():
		// The walk of Files decided that e is in the context; the filter's
		// Open would only match the patterns again.
		rc, err := f.c.base.Open(filepath.FromSlash(e.path))
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPathError(err)}
		}
		return &regularFile{ReadCloser: rc, info: info}, nil
	}
	return &memFile{Reader: bytes.NewReader(nil), info: info}, nil
}

// ReadDir lists the directory name as the tar carries it, sorted by name.
func (f contextFS) ReadDir(name string) ([]fs.DirEntry, error) {
	e, err := f.c.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !e.mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: syscall.ENOTDIR}
	}
	return dirEntries(e.kids), nil
}

// Stat describes name, following symbolic links that stay inside the
// context.
func (f contextFS) Stat(name string) (fs.FileInfo, error) { return f.stat("stat", name, true) }

// Lstat describes name without following a final symbolic link.
func (f contextFS) Lstat(name string) (fs.FileInfo, error) { return f.stat("lstat", name, false) }

func (f contextFS) stat(op, name string, follow bool) (fs.FileInfo, error) {
	e, err := f.c.resolve(op, name, follow)
	if err != nil {
		return nil, err
	}
	return e.info(path.Base(name)), nil
}

// ReadLink returns the text of the symbolic link name, wherever it points.
func (f contextFS) ReadLink(name string) (string, error) {
	e, err := f.c.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if e.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return e.link, nil
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

// fileInfo describes an entry under the name it was asked for, with no Sys:
// the host's owner is not what the tar carries.
type fileInfo struct {
	e    *entry
	name string
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.e.size }
func (i fileInfo) Mode() fs.FileMode  { return i.e.mode }
func (i fileInfo) ModTime() time.Time { return time.Unix(0, i.e.mtime) }
func (i fileInfo) IsDir() bool        { return i.e.mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }

// dirEntry is an entry as a directory lists it.
type dirEntry struct{ e *entry }

func (d dirEntry) Name() string               { return d.e.name }
func (d dirEntry) IsDir() bool                { return d.e.mode.IsDir() }
func (d dirEntry) Type() fs.FileMode          { return d.e.mode.Type() }
func (d dirEntry) Info() (fs.FileInfo, error) { return d.e.info(d.e.name), nil }

func dirEntries(es []*entry) []fs.DirEntry {
	out := make([]fs.DirEntry, len(es))
	for i, e := range es {
		out[i] = dirEntry{e}
	}
	return out
}

type regularFile struct {
	io.ReadCloser
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
	entries []*entry
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
		return dirEntries(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return dirEntries(rest[:n]), nil
}

// DockerfileFiles is what a BuildKit session shares under "dockerfile": the
// Dockerfile's directory filtered down to the Dockerfile and the ignore files
// a frontend looks for beside it (<Dockerfile>.dockerignore, .dockerignore).
// A "# syntax=" frontend can read anything in that share, and the directory
// may hold files the ignore file keeps out of the context (.git/config, with
// the token actions/checkout leaves there): none of them is in it.
func (c *Context) DockerfileFiles() (fsutil.FS, error) {
	dir, name := filepath.Split(c.dfPath)
	base, err := fsutil.NewFS(dir)
	if err != nil {
		return nil, err // the caller says what it was opening
	}
	only := []string{escapePattern(name), escapePattern(name + ".dockerignore"), ".dockerignore"}
	return fsutil.NewFilterFS(base, &fsutil.FilterOpt{
		IncludePatterns: only,
		Map: func(_ string, st *fstypes.Stat) fsutil.MapResult {
			st.Uid, st.Gid = 0, 0
			return fsutil.MapResultKeep
		},
	})
}
