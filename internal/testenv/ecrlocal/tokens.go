package ecrlocal

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// tokenState is what the gate knows about a password.
type tokenState int

const (
	tokenUnknown tokenState = iota
	tokenValid
	tokenExpired
)

// selfRenewal is how long before expiry the endpoint replaces the password it uses itself.
const selfRenewal = time.Minute

// tokenStore issues registry passwords and remembers when each expires. Expired passwords are kept
// for a while so that the gate can say "expired" rather than "unknown", as ECR does.
type tokenStore struct {
	ttl   time.Duration
	fixed string
	now   func() time.Time

	mu       sync.Mutex
	expires  map[string]time.Time // password -> expiry
	own      string               // the password the endpoint uses for its own registry calls
	ownUntil time.Time
}

func newTokenStore(ttl time.Duration, fixed string, now func() time.Time) *tokenStore {
	return &tokenStore{ttl: ttl, fixed: fixed, now: now, expires: map[string]time.Time{}}
}

// issue returns a new password (or the fixed one, renewed) and its expiry.
func (t *tokenStore) issue() (string, time.Time, error) {
	password := t.fixed
	if password == "" {
		var b [48]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", time.Time{}, fmt.Errorf("generating registry password: %w", err)
		}
		password = base64.RawURLEncoding.EncodeToString(b[:])
	}
	now := t.now()
	expiresAt := now.Add(t.ttl)
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, exp := range t.expires {
		if now.Sub(exp) > 24*time.Hour+t.ttl {
			delete(t.expires, p)
		}
	}
	t.expires[password] = expiresAt
	return password, expiresAt, nil
}

// check tells whether password was issued and is still valid.
func (t *tokenStore) check(password string) tokenState {
	t.mu.Lock()
	exp, ok := t.expires[password]
	t.mu.Unlock()
	switch {
	case !ok || password == "":
		return tokenUnknown
	case !t.now().Before(exp):
		return tokenExpired
	default:
		return tokenValid
	}
}

// self returns a valid password for the endpoint's own registry calls, issuing one when needed.
func (t *tokenStore) self() (string, error) {
	t.mu.Lock()
	own, until := t.own, t.ownUntil
	t.mu.Unlock()
	if own != "" && t.now().Add(selfRenewal).Before(until) {
		return own, nil
	}
	password, expiresAt, err := t.issue()
	if err != nil {
		return "", err
	}
	t.mu.Lock()
	t.own, t.ownUntil = password, expiresAt
	t.mu.Unlock()
	return password, nil
}
