// Package ociregistry publishes to a plain OCI registry, such as the in-process one it starts for dry runs.
//
// That registry keeps blobs in a BlobStore, which streams uploads to disk; the
// store and the distribution API helpers it uses (ParseAPIPath, IsDigest,
// WriteError) also serve the test ECR emulator, internal/testenv/ecrlocal.
package ociregistry
