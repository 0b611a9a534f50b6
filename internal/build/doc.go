// Package build holds what the run and a builder exchange: the request for
// one build, the image it made, its steps as they go, and the registry
// credentials a builder is handed to push or pull. Builders (the Docker
// engine, a standalone BuildKit) live in packages of their own below it.
package build
