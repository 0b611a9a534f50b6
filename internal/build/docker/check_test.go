package docker_test

import (
	"github.com/org/ms-build-action/internal/build/docker"
	"github.com/org/ms-build-action/internal/pipeline"
)

var _ pipeline.Builder = (*docker.Engine)(nil)
