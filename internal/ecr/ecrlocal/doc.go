// Package ecrlocal is an ECR-compatible endpoint and registry gate that run in-process, for dry runs and tests without an AWS account.
package ecrlocal
