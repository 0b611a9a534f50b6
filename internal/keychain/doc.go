// Package keychain finds the login for a registry a build pulls from: an
// ECR token for ECR hosts, else the user's Docker config.
package keychain
