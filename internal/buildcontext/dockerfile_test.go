package buildcontext

import (
	"context"
	"io"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tonistiigi/fsutil"
)

// TestDockerfileFiles walks what the session shares under "dockerfile": the
// Dockerfile and its ignore files, never the rest of its directory (a
// .git/config with a token, ignored files, other Dockerfiles), whether the
// Dockerfile is the context's own or lies outside it, and whatever its name.
func TestDockerfileFiles(t *testing.T) {
	t.Parallel()
	around := map[string]string{
		".git/config":             "[http]\n\textraheader = AUTHORIZATION: basic c2VjcmV0\n",
		".env":                    "TOKEN=secret\n",
		"secret.key":              "key",
		"sub/Dockerfile":          "FROM scratch\n",
		"Dockerfile.other":        "FROM scratch\n",
		".dockerignore":           ".git\n.env\nsecret.key\n",
		"app.go":                  "package main\n",
		"Dockerfile[1]x":          "FROM scratch\n",
		"nested/Dockerfile[1].df": "FROM scratch\n",
	}
	for _, tc := range []struct {
		name       string
		dockerfile string            // relative to the Dockerfile's directory
		extra      map[string]string // more files there
		outside    bool              // the Dockerfile's directory is not the context
		want       []string
	}{
		{name: "in the context", dockerfile: "Dockerfile", want: []string{".dockerignore", "Dockerfile"}},
		{name: "with its own ignore file", dockerfile: "Dockerfile", extra: map[string]string{"Dockerfile.dockerignore": "*\n"},
			want: []string{".dockerignore", "Dockerfile", "Dockerfile.dockerignore"}},
		{name: "a name with pattern characters", dockerfile: "Dockerfile[1]", extra: map[string]string{"Dockerfile[1].dockerignore": "*\n"},
			want: []string{".dockerignore", "Dockerfile[1]", "Dockerfile[1].dockerignore"}},
		{name: "outside the context", dockerfile: "build.Dockerfile", outside: true, want: []string{".dockerignore", "build.Dockerfile"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dfDir := t.TempDir()
			writeContextTree(t, dfDir, around)
			writeContextTree(t, dfDir, tc.extra)
			writeContextTree(t, dfDir, map[string]string{tc.dockerfile: "FROM scratch\nCOPY . .\n"})
			ctxDir := dfDir
			if tc.outside {
				ctxDir = t.TempDir()
				writeContextTree(t, ctxDir, map[string]string{"app.go": "package main\n"})
			}
			c := mustOpenContext(t, ctxDir, filepath.Join(dfDir, tc.dockerfile))
			files, err := c.DockerfileFiles()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			err = files.Walk(context.Background(), "", func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				st := d.(*fsutil.DirEntryInfo).Stat
				if st.Uid != 0 || st.Gid != 0 {
					t.Errorf("%s is owned by %d:%d, want 0:0", p, st.Uid, st.Gid)
				}
				got = append(got, p)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("shared under dockerfile (-want +got):\n%s", diff)
			}
			rc, err := files.Open(tc.dockerfile)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if b, _ := io.ReadAll(rc); string(b) != "FROM scratch\nCOPY . .\n" {
				t.Errorf("the shared Dockerfile reads %q", b)
			}
			if _, err := files.Open(".git/config"); err == nil {
				t.Error(".git/config can be opened through the share")
			}
		})
	}
}
