// Package action reads the step's inputs and reports its progress and outputs
// to the CI system it runs in (GitHub Actions, GitLab CI or a terminal).
package action
