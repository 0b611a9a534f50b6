// Package dockerfile reads a Dockerfile with BuildKit's parser: its stages,
// what each copies from, the line of each step, and whether a stage copies
// its whole context before its first RUN.
package dockerfile
