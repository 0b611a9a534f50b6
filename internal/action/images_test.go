package action

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseImages: images reads a merge's images, one a line or comma
// separated, digests or URIs of the repository's images, and refuses what
// cannot be merged with one line naming images.
func TestParseImages(t *testing.T) {
	t.Parallel()
	d1, d2 := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	uri := "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@" + d2
	env := Environment{CI: CI{Provider: GitHub, SHA: "0123456789abcdef", Branch: "main", DefaultBranch: "main"}}
	got, err := Parse(map[string]string{"repository": "team/app", "aws-region": "eu-west-1", "images": " " + d1 + "\n\n" + uri + "\n"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{d1, uri}, got.Images); diff != "" {
		t.Errorf("Images (-want +got):\n%s", diff)
	}
	got, err = Parse(map[string]string{"repository": "team/app", "aws-region": "eu-west-1", "images": d1 + "," + "127.0.0.1:5000/team/app@" + d2}, env)
	if err != nil || len(got.Images) != 2 {
		t.Errorf("comma separated, a loopback registry: %v, %q", err, got.Images)
	}
	for _, tc := range []struct{ images, push, says string }{
		{images: d1, says: "one image given: give the images of at least two platforms"},
		{images: d1 + "\n" + d1, says: "is given twice"},
		{images: d1 + "\n" + "r.example/team/app@" + d1, says: "is given twice"},
		{images: d1 + "\n" + "r.example/team/other@" + d2, says: `is an image of "team/other", not of repository team/app`},
		{images: d1 + "\nteam/app:latest", says: `"team/app:latest" is not an image: give each as sha256:`},
		{images: d1 + "\nsha256:ABC", says: `"sha256:ABC" is not an image`},
		{images: d1 + "\n::error::x%0A\"" + strings.Repeat("z", 500), says: `"::error::x%0A\"zzz`},
		{images: d1 + "\n" + d2, push: "false", says: "a merge publishes an index, and push is false"},
	} {
		raw := map[string]string{"repository": "team/app", "aws-region": "eu-west-1", "images": tc.images}
		if tc.push != "" {
			raw["push"] = tc.push
		}
		_, err := Parse(raw, env)
		if err == nil || !strings.HasPrefix(err.Error(), "input images: ") || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), "\n") || len(err.Error()) > 400 {
			t.Errorf("images %q: error %v, want one line naming images, saying %q", tc.images, err, tc.says)
		}
	}
}
