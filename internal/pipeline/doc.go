// Package pipeline runs the whole job: plan, log in, build both stages,
// publish atomically and report.
package pipeline
