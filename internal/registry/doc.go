// Package registry holds what the run and a publisher exchange: a
// repository, an image as the registry has it, a manifest's exact bytes,
// a login, and the kinds of failure the run branches on. Publishers (ECR;
// a plain OCI registry for the dry run) live in packages of their own.
package registry
