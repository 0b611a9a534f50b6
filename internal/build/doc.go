// Package build turns a Dockerfile and a context directory into images through the Docker engine.
package build
