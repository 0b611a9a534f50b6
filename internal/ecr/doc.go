// Package ecr talks to Amazon ECR: login, repositories, image descriptions
// and re-tagging, through the AWS SDK.
package ecr
