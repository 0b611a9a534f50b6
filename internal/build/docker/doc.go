// Package docker builds, pushes and pulls images through a Docker engine's
// API, always with BuildKit: the Builder the run uses by default.
package docker
