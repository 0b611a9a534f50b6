package testenv

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// busyboxLayer is a layer with Debian's static busybox as /bin/busybox and
// /bin/sh and /bin/cat.
var busyboxLayer = sync.OnceValues(func() (v1.Layer, error) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))})
	tw.Write(bb)
	for _, n := range []string{"sh", "cat"} {
		tw.WriteHeader(&tar.Header{Name: "bin/" + n, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777})
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\n")
	tw.WriteHeader(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd))})
	tw.Write(passwd)
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
})

// basePath is the test base images' PATH, as an ENV line's argument.
const basePath = "PATH=/opt/sdk/bin:/usr/local/bin:/bin"

// busyboxApplets lists the applets of Debian's static busybox at /bin/busybox;
// its arm64 build (the same package) has the same.
var busyboxApplets = sync.OnceValues(func() ([]string, error) {
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets (install Debian's busybox-static): %w", err)
	}
	return strings.Fields(string(list)), nil
})

// baseRootfs is the root file system of BusyboxImage (or, with sdk, of
// SDKImage) as a tar, with bb as /bin/busybox: a static busybox of the
// image's architecture.
func baseRootfs(bb []byte, applets []string, sdk bool) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var err error
	dir := func(name string, mode int64) {
		err = errors.Join(err, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}))
	}
	file := func(name string, mode int64, data []byte) {
		err = errors.Join(err, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}))
		_, werr := tw.Write(data)
		err = errors.Join(err, werr)
	}
	dir("bin/", 0o755)
	dir("tmp/", 0o1777)
	dir("etc/", 0o755)
	file("bin/busybox", 0o755, bb)
	for _, a := range applets {
		if a != "busybox" {
			err = errors.Join(err, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox"}))
		}
	}
	file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n"))
	if sdk {
		dir("opt/", 0o755)
		dir("opt/sdk/", 0o755)
		dir("opt/sdk/bin/", 0o755)
		dir("opt/sdk/lib/", 0o755)
		file("opt/sdk/bin/restore", 0o755, []byte(sdkRestore))
		file("opt/sdk/bin/compile", 0o755, []byte(sdkCompile))
		file(SDKMarker, 0o644, bytes.Repeat([]byte("sdk-toolchain "), 300_000))
	}
	err = errors.Join(err, tw.Close())
	return buf.Bytes(), err
}

// sdkRestore is SDKImage's restore DEPS: it "downloads" the dependencies the
// file lists into /deps, one file each, and logs what it did.
const sdkRestore = `#!/bin/sh
set -e
mkdir -p /deps
while read -r dep; do
  [ -n "$dep" ] || continue
  echo "restoring $dep"
  echo "$dep" > "/deps/$dep"
done < "$1"
echo "restored $(ls /deps | wc -l) packages"
`

// sdkCompile is SDKImage's compile OUT: it "compiles" the sources
// (message.txt) into OUT/app, a program that prints the message and the
// dependencies.
const sdkCompile = `#!/bin/sh
set -e
mkdir -p "$1"
msg=$(cat message.txt)
deps=$(ls /deps | tr '\n' ' ')
printf '#!/bin/sh\necho "%s (deps: %s)"\n' "$msg" "$deps" > "$1/app"
chmod 755 "$1/app"
echo "compiled $1/app"
`

// PushBase pushes a busybox image with a file only it has, /marker.txt, to
// ref with the given login: an image no engine has seen. It returns the
// marker's content.
func PushBase(t testing.TB, ref string, a authn.Authenticator) string {
	t.Helper()
	l, err := busyboxLayer()
	must(t, err)
	marker := rand.Text()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "marker.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(marker))})
	tw.Write([]byte(marker))
	tw.Close()
	b := buf.Bytes()
	ml, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	must(t, err)
	img, err := mutate.AppendLayers(empty.Image, l, ml)
	must(t, err)
	cf, err := img.ConfigFile()
	must(t, err)
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Config.Env = runtime.GOARCH, "linux", []string{"PATH=/bin"}
	img, err = mutate.ConfigFile(img, cf)
	must(t, err)
	r, err := name.ParseReference(ref)
	must(t, err)
	must(t, remote.Write(r, img, remote.WithAuth(a), remote.WithContext(t.Context())))
	return marker
}
