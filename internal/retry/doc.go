// Package retry is the run's one policy for remote faults: which calls are
// tried again, how often, and how long a run may spend on faults in all.
package retry
