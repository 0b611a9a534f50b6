package ociregistry_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/ociregistry"
)

func TestParseAPIPath(t *testing.T) {
	t.Parallel()
	type path = ociregistry.APIPath
	for _, tc := range []struct {
		name   string
		path   string
		want   path
		wantOK bool
	}{
		{name: "manifest by tag", path: "/v2/app/manifests/latest", want: path{Name: "app", Kind: "manifests", Ref: "latest"}, wantOK: true},
		{name: "nested manifest", path: "/v2/team/sub/app/manifests/sha256:abc", want: path{Name: "team/sub/app", Kind: "manifests", Ref: "sha256:abc"}, wantOK: true},
		{name: "blob", path: "/v2/team/app/blobs/sha256:abc", want: path{Name: "team/app", Kind: "blobs", Ref: "sha256:abc"}, wantOK: true},
		{name: "upload start", path: "/v2/team/app/blobs/uploads/", want: path{Name: "team/app", Kind: "uploads"}, wantOK: true},
		{name: "upload start without slash", path: "/v2/team/app/blobs/uploads", want: path{Name: "team/app", Kind: "uploads"}, wantOK: true},
		{name: "upload session", path: "/v2/team/app/blobs/uploads/1234", want: path{Name: "team/app", Kind: "uploads", Ref: "1234"}, wantOK: true},
		{name: "tags", path: "/v2/team/app/tags/list", want: path{Name: "team/app", Kind: "tags"}, wantOK: true},
		{name: "referrers", path: "/v2/app/referrers/sha256:abc", want: path{Name: "app", Kind: "referrers", Ref: "sha256:abc"}, wantOK: true},
		{name: "repository named like a route", path: "/v2/manifests/manifests/v1", want: path{Name: "manifests", Kind: "manifests", Ref: "v1"}, wantOK: true},
		{name: "base", path: "/v2/"},
		{name: "catalog", path: "/v2/_catalog"},
		{name: "no name", path: "/v2/manifests/latest"},
		{name: "not v2", path: "/v1/app/manifests/latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ociregistry.ParseAPIPath(tc.path)
			if ok != tc.wantOK {
				t.Fatalf("ParseAPIPath(%q) ok = %t, want %t", tc.path, ok, tc.wantOK)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseAPIPath(%q) mismatch (-want +got):\n%s", tc.path, diff)
			}
		})
	}
}

func TestIsDigest(t *testing.T) {
	t.Parallel()
	hex64 := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for s, want := range map[string]bool{
		"sha256:" + hex64:                      true,
		"sha256:" + hex64[:63]:                 false,
		"sha256:" + hex64 + "0":                false,
		"sha256:0123456789ABCDEF" + hex64[16:]: false,
		"sha512:" + hex64:                      false,
		hex64:                                  false,
		"":                                     false,
	} {
		if got := ociregistry.IsDigest(s); got != want {
			t.Errorf("IsDigest(%q) = %t, want %t", s, got, want)
		}
	}
}
