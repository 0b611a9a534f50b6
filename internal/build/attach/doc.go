// Package attach serves what a BuildKit session carries beside the build
// context, for either builder: registry logins, build secrets and SSH.
package attach
