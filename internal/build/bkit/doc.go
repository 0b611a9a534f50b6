// Package bkit is what both builders share about BuildKit: what a build's
// session serves beside the context (registry logins, build secrets, SSH),
// its progress as steps, and how its errors are read.
package bkit
