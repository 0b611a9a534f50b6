// Package pipeline is the run, top to bottom: plan the build, skip it when
// an identical image exists, restore the build stage's cache, build, publish
// atomically, record, report. It talks to a Builder and a Publisher it
// declares, and knows no wire and no CI.
package pipeline
