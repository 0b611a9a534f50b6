package ecr_test

import (
	"github.com/org/ms-build-action/internal/ecr"
	"github.com/org/ms-build-action/internal/pipeline"
)

var _ pipeline.Publisher = (*ecr.Registry)(nil)
