// Package buildcontext decides which files of a directory a build receives
// (its .dockerignore applied) and serves them as a file system, as a tar
// body, and to a BuildKit session.
package buildcontext
