// Package testenv gives tests the real parts they run against: a Docker
// engine, offline base images and registries that check credentials.
package testenv
