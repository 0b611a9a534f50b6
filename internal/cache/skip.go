package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// skipKeyVersion names the encoding SkipKey hashes; change it with any change
// to what is hashed or how.
//
// Version 3, with the primitives of encoder (see dependencyKeyVersion), as
// encodeSkipKey writes it; version 1 lacked the line marked (v2), version 2
// the lines marked (v3), hashed the commit's labels (source, revision) under
// "labels" and a .git's files as any others. The "annotations" field came
// later within version 3: it is written only when there are annotations, so
// every key without them is as it was, and a key with them cannot equal
// one without (no other field is named "annotations" and every string is
// length-prefixed):
//
//	string "msb-skip-key/v3"
//	string "dockerfile", string the Dockerfile
//	string "build-args", number of arguments, then string name, string value in name order
//	string "target", string target
//	string "platform", string platform
//	string "network", string network (v3)
//	string "frontend", string the "# syntax=" reference, string what it resolves to (v3)
//	string "labels", number of labels, then string name, string value in name order
//	string "annotations", number of annotations, then string name, string value in name order:
//	    only when there are annotations
//	string "bases", number of images, then string reference, string image digest or id in reference order (v2)
//	string "salt", string salt
//	string "context", number of entries (the root left out), then for each in path order:
//	    string path (slash-separated, relative to the context)
//	    string type: "dir", "file", "symlink", "other" or "git" (v3)
//	    number permission bits with setuid 0o4000, setgid 0o2000, sticky 0o1000 (0 for "git")
//	    for a file: number size, string SHA-256 of the content
//	    for a symlink: string the link's text
//	    for a git (v3): string the commit id HEAD names, in lower-case hex
//
// A "git" entry is a directory or file named .git whose HEAD could be read;
// nothing below it is listed. A .git whose HEAD cannot be read is listed as
// any other entry.
const skipKeyVersion = "msb-skip-key/v3"

// readBufferSize is the size of each worker's read buffer.
const readBufferSize = 256 << 10

// SkipInput is everything that decides the image a build makes.
type SkipInput struct {
	// FS is the whole build context as the engine receives it, after
	// .dockerignore (build.Context.FS()).
	FS fs.FS
	// Dockerfile is the Dockerfile's content.
	Dockerfile []byte
	// BuildArgs are all the build arguments given.
	BuildArgs map[string]string
	// Target is the target stage's name or index.
	Target string
	// Platform is the platform built for, such as linux/amd64.
	Platform string
	// Network is the network mode of RUN steps ("" for the daemon's).
	Network string
	// Frontend is the "# syntax=" reference, "" for none, and
	// FrontendDigest what it resolves to now.
	Frontend, FrontendDigest string
	// Labels are labels the user sets on the image. Not the commit's
	// (source, revision) nor the time of the build: an image built from the
	// same inputs at another commit is the same image.
	Labels map[string]string
	// Annotations are annotations the user sets on the image's manifest.
	Annotations map[string]string
	// Bases maps each image the build reads (a FROM reference, an image in
	// COPY --from or RUN --mount=from=) to what it resolves to now (a
	// manifest digest or an image id), so that a tag moving to a new image
	// moves the key.
	Bases map[string]string
	// Dir is the context's directory on disk, where a .git file's relative
	// "gitdir:" is resolved; "" hashes such a file as any other.
	Dir string
	// Salt is any text the user sets to force a new key.
	Salt string
}

// SkipKey computes the key of the image a build would make: a SHA-256, in
// hex, over every entry of the context (its path, its type, its permission
// bits, and a file's content or a symbolic link's text; a .git, the commit
// it holds), the Dockerfile, the build arguments, the target, the platform,
// the network, the frontend, the labels, the images read and the salt. An
// image already pushed with the same key need not be built again. Times,
// owners (the tar sends 0:0), where the context lies and the commit's labels
// play no part.
//
// The images count through what the caller resolved them to (Bases).
//
// Files are read once each, by several goroutines, through fixed buffers:
// memory grows with the number of entries, not with their size. SkipKey
// stops and returns ctx's error when ctx is done.
func SkipKey(ctx context.Context, in SkipInput) (string, error) {
	s, err := ComputeSkip(ctx, in)
	return s.Key, err
}

// Skip is a skip key and what the context showed while it was made.
type Skip struct {
	Key string
	// Git lists the .git entries of the context, in path order.
	Git []GitEntry
}

// GitEntry is a .git in the build context.
type GitEntry struct {
	Path   string // slash-separated, relative to the context
	Commit string // the commit id HEAD names; "" when it could not be read
	Size   int64  // the bytes the context sends of it
}

// ComputeSkip is SkipKey, and says which .git entries the context holds.
func ComputeSkip(ctx context.Context, in SkipInput) (Skip, error) {
	return skipKey(ctx, in, skipWorkers())
}

// skipWorkers is how many files SkipKey reads at once. Reading a small file
// is mostly system calls (open, stat, read, close); with more goroutines than
// processors, one is ready to hash while another waits on the kernel. On two
// cores, 8 workers hash BenchmarkSkipKey's tree from the page cache about 20%
// faster than 2 (about 900 MB/s against 750). The cap bounds the read buffers
// to 16 MiB.
func skipWorkers() int { return min(4*runtime.GOMAXPROCS(0), 64) }

// entryType is the type of an entry of the context.
type entryType uint8

const (
	typeDir entryType = iota
	typeFile
	typeSymlink
	typeOther // a device or a pipe: a tar header with no content
	typeGit   // a .git: the commit it holds
)

// String is the type's name, as hashed.
func (t entryType) String() string {
	return [...]string{"dir", "file", "symlink", "other", "git"}[t]
}

// entry is one entry of the context and what is hashed of it.
type entry struct {
	path   string
	link   string // a symbolic link's text; a .git's commit id
	size   int64  // the bytes of content read
	mode   uint32 // Unix permission, setuid, setgid and sticky bits
	typ    entryType
	digest [sha256.Size]byte
}

// entryChunk is how many entries are allocated at once.
const entryChunk = 1024

func skipKey(ctx context.Context, in SkipInput, workers int) (Skip, error) {
	if in.FS == nil {
		return Skip{}, errors.New("computing skip key: no build context")
	}
	entries, git, err := hashContext(ctx, in.FS, in.Dir, max(workers, 1))
	if err != nil {
		return Skip{}, fmt.Errorf("hashing build context: %w", err)
	}
	return Skip{Key: encodeSkipKey(in, entries), Git: git}, nil
}

// hashContext lists every entry of fsys and hashes its regular files on
// workers goroutines, which it starts and waits for before it returns. The
// first error, from the walk or from a worker, cancels the rest; a done
// parent wins over that error, so a caller that cancels sees its own cause.
func hashContext(parent context.Context, fsys fs.FS, dir string, workers int) ([]*entry, []GitEntry, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	var (
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() {
			firstErr = err
			cancel()
		})
	}

	jobs := make(chan *entry, 4*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { hashFiles(ctx, fsys, jobs, fail) })
	}

	entries, git, walkErr := walkContext(ctx, fsys, dir, jobs)
	if walkErr != nil {
		fail(walkErr)
	}
	close(jobs)
	wg.Wait()

	if err := parent.Err(); err != nil {
		return nil, nil, err
	}
	if firstErr != nil {
		return nil, nil, firstErr
	}
	return entries, git, nil
}

// hashFiles is one worker: it hashes each file queued on jobs into its entry,
// through a hash and a buffer of its own, until jobs is closed. Once ctx is
// done it drains jobs without reading them. It reports each failure to fail,
// which keeps the first.
func hashFiles(ctx context.Context, fsys fs.FS, jobs <-chan *entry, fail func(error)) {
	h := sha256.New()
	buf := make([]byte, readBufferSize)
	for e := range jobs {
		if ctx.Err() != nil {
			continue // drain: the walk stops soon
		}
		info, n, err := hashFile(ctx, fsys, e.path, h, buf, &e.digest)
		if err != nil {
			fail(err)
			continue
		}
		e.mode = unixMode(info.Mode())
		e.size = n
	}
}

// walkContext returns every entry of fsys but the root, in walk order, and
// the .git entries among them. It describes directories, symbolic links,
// others and a .git whose HEAD it reads (and nothing below it) itself, and
// queues each regular file on jobs, for a worker to fill in; it leaves jobs
// open. It stops with ctx's error when ctx is done.
func walkContext(ctx context.Context, fsys fs.FS, dir string, jobs chan<- *entry) ([]*entry, []GitEntry, error) {
	var (
		entries []*entry
		chunk   []entry
		git     []GitEntry
	)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "." {
			return nil // the tar has no entry for the root
		}
		if len(chunk) == cap(chunk) {
			chunk = make([]entry, 0, entryChunk)
		}
		chunk = append(chunk, entry{path: p})
		e := &chunk[len(chunk)-1]
		entries = append(entries, e)
		if d.Name() == ".git" && (d.IsDir() || d.Type().IsRegular()) {
			g := GitEntry{Path: p, Size: gitSize(fsys, p)}
			commit, err := headCommit(fsys, p, d.IsDir(), dir)
			if err == nil {
				g.Commit = commit
			}
			git = append(git, g)
			if err == nil {
				e.typ, e.link = typeGit, commit
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
		}
		if d.Type().IsRegular() {
			// The worker takes the mode from the open file: one lookup
			// of the path fewer, and not on this goroutine.
			e.typ = typeFile
			select {
			case jobs <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return describeEntry(fsys, d, e)
	})
	slices.SortFunc(git, func(a, b GitEntry) int { return strings.Compare(a.Path, b.Path) })
	return entries, git, err
}

// describeEntry fills in the mode, the type and a symbolic link's text of e,
// an entry that is not a regular file.
func describeEntry(fsys fs.FS, d fs.DirEntry, e *entry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	e.mode = unixMode(info.Mode())
	switch t := d.Type(); {
	case t.IsDir():
		e.typ = typeDir
	case t&fs.ModeSymlink != 0:
		e.typ = typeSymlink
		if e.link, err = fs.ReadLink(fsys, e.path); err != nil {
			return err
		}
	default:
		e.typ = typeOther
	}
	return nil
}

// encodeSkipKey hashes in and the context's entries as skipKeyVersion
// writes them down, and returns the hash in hex. It sorts entries.
func encodeSkipKey(in SkipInput, entries []*entry) string {
	h := sha256.New()
	e := &encoder{h: h}
	e.string(skipKeyVersion)
	e.string("dockerfile")
	e.bytes(in.Dockerfile)
	e.stringMap("build-args", in.BuildArgs)
	e.field("target", in.Target)
	e.field("platform", in.Platform)
	e.field("network", in.Network)
	e.string("frontend")
	e.string(in.Frontend)
	e.string(in.FrontendDigest)
	e.stringMap("labels", in.Labels)
	if len(in.Annotations) > 0 {
		e.stringMap("annotations", in.Annotations)
	}
	e.stringMap("bases", in.Bases)
	e.field("salt", in.Salt)
	encodeEntries(e, entries)
	return hex.EncodeToString(h.Sum(nil))
}

// encodeEntries writes the "context" field of the skip key: the count of
// entries, then each entry in path order.
func encodeEntries(e *encoder, entries []*entry) {
	slices.SortFunc(entries, func(a, b *entry) int { return strings.Compare(a.path, b.path) })
	e.string("context")
	e.uint(uint64(len(entries)))
	for _, ent := range entries {
		e.string(ent.path)
		e.string(ent.typ.String())
		e.uint(uint64(ent.mode))
		switch ent.typ {
		case typeFile:
			e.uint(uint64(ent.size))
			e.bytes(ent.digest[:])
		case typeSymlink, typeGit:
			e.string(ent.link)
		}
	}
}

// unixMode returns the bits of m that a tar header's mode carries besides
// the type.
func unixMode(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}
