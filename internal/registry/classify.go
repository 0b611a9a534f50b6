package registry

import (
	"fmt"
	"strings"
)

// Classify marks what a builder relayed from a registry as text: a token the
// registry no longer takes, or a fault that may pass. The Docker engine and
// BuildKit report both only as text.
func Classify(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "token has expired") {
		return fmt.Errorf("%w: %w", ErrAuthExpired, err)
	}
	for _, s := range transient {
		if strings.Contains(msg, s) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return err
}

// transient are what a builder says of a registry or a network failing,
// not refusing.
var transient = []string{" 500 ", " 502 ", " 503 ", " 504 ", "Internal Server Error", "Service Unavailable", "Bad Gateway", "Gateway Timeout",
	"connection reset", "broken pipe", "EOF", "i/o timeout", "connection refused", "TLS handshake timeout"}
