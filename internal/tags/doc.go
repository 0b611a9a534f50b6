// Package tags turns the tags input's lines (plain tags, or
// docker/metadata-action's rule lines) into the tags a run attaches, for one
// commit and the ref it was built for. It is pure: no CI, no git, no network.
package tags
