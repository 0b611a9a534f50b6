// Package ociregistry publishes to a plain OCI registry, such as the in-process one it starts for dry runs.
package ociregistry
