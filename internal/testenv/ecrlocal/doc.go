// Package ecrlocal is an ECR-compatible endpoint and registry gate that run in-process: test support, for driving the product through the real AWS SDK without an AWS account.
package ecrlocal
