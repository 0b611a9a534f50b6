package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/org/ms-build-action/internal/testenv/buildkitd"
)

// baseImages are the fixtures' base images, in the engine (scripts/engine
// makes them) and, for the BuildKit builder, in the daemon's mirror.
var baseImages = []string{"msb-example/golang:1.26", "msb-example/runtime:1"}

// startBuildKit serves a mirror registry on loopback with the engine's
// base images in it and starts a buildkitd (mTLS on loopback, its own root)
// that resolves docker.io through the mirror and pushes to the ECR
// endpoint's registry. close stops both.
func (b *bench) startBuildKit(ctx context.Context) (close func(), err error) {
	if _, err := buildkitd.Binary(); err != nil {
		return nil, fmt.Errorf("the BuildKit builder: %v: run `eval \"$(scripts/buildkit)\"` as root, or -buildkit=false", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	blobs := filepath.Join(b.tmp, "mirror")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)),
		ggcrregistry.WithBlobHandler(ggcrregistry.NewDiskBlobHandler(blobs)))}
	go srv.Serve(ln)
	mirror := ln.Addr().String()
	for _, img := range baseImages {
		if err := b.mirrorImage(ctx, img, mirror); err != nil {
			srv.Close()
			return nil, fmt.Errorf("copying %s from the engine to the BuildKit mirror: %w", img, err)
		}
	}
	if b.bk, err = buildkitd.Start(ctx, buildkitd.Config{Mirror: mirror, HTTPRegistries: []string{b.local.Registry}}); err != nil {
		srv.Close()
		return nil, err
	}
	return func() {
		b.bk.Close()
		srv.Close()
	}, nil
}

// mirrorImage copies img from the engine (its docker save archive) to the
// mirror at host, where the daemon finds it as docker.io's.
func (b *bench) mirrorImage(ctx context.Context, img, host string) error {
	saved, err := b.docker.ImageSave(ctx, []string{img})
	if err != nil {
		return err
	}
	path := filepath.Join(b.tmp, strings.NewReplacer("/", "_", ":", "_").Replace(img)+".tar")
	f, err := os.Create(path)
	if err != nil {
		saved.Close()
		return err
	}
	_, err = io.Copy(f, saved)
	saved.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	defer os.Remove(path)
	image, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(host+"/"+img, name.Insecure)
	if err != nil {
		return err
	}
	return remote.Write(ref, image, remote.WithContext(ctx))
}

// builderEnv is the environment that points ms-build at the daemon, and at
// no Docker engine: DOCKER_HOST names a socket that does not exist.
func (b *bench) builderEnv() []string {
	if b.bk == nil {
		return nil
	}
	return []string{
		"DOCKER_HOST=unix:///nonexistent/msb-bench/docker.sock",
		"INPUT_BUILDER=" + b.bk.Addr, "INPUT_BUILDKIT_CA=" + b.bk.CAFile,
		"INPUT_BUILDKIT_CERT=" + b.bk.CertFile, "INPUT_BUILDKIT_KEY=" + b.bk.KeyFile,
	}
}

// errNoBuildKit is returned by a BuildKit tool the bench has no daemon for.
var errNoBuildKit = errors.New("no buildkitd was started")
