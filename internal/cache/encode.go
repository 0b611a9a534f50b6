package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"io"
	"io/fs"
	"maps"
	"slices"
)

// encoder writes the fields of a key to a hash so that no two different
// sequences of fields write the same bytes: every string is preceded by its
// length, every list by its count, as fixed-size big-endian integers.
type encoder struct {
	h   hash.Hash
	num [8]byte
	buf []byte // reused to write strings without allocating
}

func (e *encoder) uint(v uint64) {
	binary.BigEndian.PutUint64(e.num[:], v)
	e.h.Write(e.num[:])
}

func (e *encoder) bytes(b []byte) {
	e.uint(uint64(len(b)))
	e.h.Write(b)
}

func (e *encoder) string(s string) {
	e.uint(uint64(len(s)))
	e.buf = append(e.buf[:0], s...)
	e.h.Write(e.buf)
}

// field writes a named string field.
func (e *encoder) field(name, value string) {
	e.string(name)
	e.string(value)
}

// stringMap writes a named map as its count and its pairs sorted by key.
func (e *encoder) stringMap(name string, m map[string]string) {
	e.string(name)
	e.uint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.string(k)
		e.string(m[k])
	}
}

// errNotRegular is returned for a path that was a regular file when the
// context was listed and is something else when it is opened.
var errNotRegular = errors.New("not a regular file any more")

// hashFile opens the regular file name, hashes its content with h, reading
// through buf, and stores the digest in sum. It returns what Stat tells of
// the open file and the number of bytes read. It reads to the end of the file
// or, when Stat gives a size, to that size, as the tar does: that saves a
// read per file, the one that would only report the end.
func hashFile(ctx context.Context, fsys fs.FS, name string, h hash.Hash, buf []byte, sum *[sha256.Size]byte) (fs.FileInfo, int64, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !info.Mode().IsRegular() {
		return nil, 0, &fs.PathError{Op: "read", Path: name, Err: errNotRegular}
	}
	size := info.Size()
	h.Reset()
	var n int64
	done := ctx.Done()
	for size <= 0 || n < size {
		select {
		case <-done:
			return nil, n, ctx.Err()
		default:
		}
		k, err := f.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, n, err
		}
	}
	h.Sum(sum[:0])
	return info, n, nil
}
