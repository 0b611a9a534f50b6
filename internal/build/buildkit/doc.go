// Package buildkit is the Builder over a standalone BuildKit daemon
// (buildkitd, local or remote over mTLS), with BuildKit's own client: no
// Docker engine is needed.
package buildkit
