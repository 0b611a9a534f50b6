// Package cache derives the keys and tags that let a build reuse what an
// earlier one made: the dependency key of the build stage's layer cache, and
// the key of a whole image that need not be built again.
package cache
