package buildkit

import (
	"encoding/json"
	"testing"
)

func TestSameButInlineCache(t *testing.T) {
	t.Parallel()
	const base = `"architecture":"amd64","config":{"Env":["PATH=/bin"],"Labels":{"a":"1","b":"2"}},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]}`
	tests := []struct {
		name string
		x, y string
		want bool
	}{
		{"only the inline cache differs", `{` + base + `,"moby.buildkit.cache.v0":"W10="}`, `{` + base + `,"moby.buildkit.cache.v0":"W3t9XQ=="}`, true},
		{"one has no inline cache", `{` + base + `,"moby.buildkit.cache.v0":"W10="}`, `{` + base + `}`, true},
		{"keys in another order", `{` + base + `}`, `{"rootfs":{"diff_ids":["sha256:aa"],"type":"layers"},"config":{"Labels":{"b":"2","a":"1"},"Env":["PATH=/bin"]},"architecture":"amd64"}`, true},
		{"another layer", `{` + base + `}`, `{"architecture":"amd64","config":{"Env":["PATH=/bin"],"Labels":{"a":"1","b":"2"}},"rootfs":{"type":"layers","diff_ids":["sha256:bb"]}}`, false},
		{"another label", `{` + base + `}`, `{"architecture":"amd64","config":{"Env":["PATH=/bin"],"Labels":{"a":"1","b":"3"}},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}`, false},
		{"a field more", `{` + base + `}`, `{` + base + `,"created":"2026-11-29T07:38:17Z"}`, false},
		{"same fields, one renamed", `{` + base + `,"created":"x"}`, `{` + base + `,"author":"x"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var x, y map[string]json.RawMessage
			if err := json.Unmarshal([]byte(tt.x), &x); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.y), &y); err != nil {
				t.Fatal(err)
			}
			got, err := sameButInlineCache(x, y)
			if err != nil || got != tt.want {
				t.Errorf("sameButInlineCache() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
