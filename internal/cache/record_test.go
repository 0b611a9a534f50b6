package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

const dockerImage = `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
	`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1234,"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111"},` +
	`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":100,"digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222"}]}`

func TestRecord(t *testing.T) {
	t.Parallel()
	rec, err := NewRecord([]byte(dockerImage), MediaTypeDockerManifest, "abc123", "")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewRecord([]byte(dockerImage), MediaTypeDockerManifest, "abc123", "")
	if string(rec) != string(again) {
		t.Error("the same image and key made two different records")
	}
	sum := sha256.Sum256([]byte(dockerImage))
	subject, key, err := ReadRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := subject, "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Errorf("subject = %s, want the image's digest %s", got, want)
	}
	if got, want := key, "abc123"; got != want {
		t.Errorf("skip key = %q, want %q", got, want)
	}
	var m v1.Manifest
	if err := json.Unmarshal(rec, &m); err != nil {
		t.Fatal(err)
	}
	want := v1.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   MediaTypeOCIManifest,
		Config:      v1.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Size: 1234, Digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"},
		Layers:      []v1.Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 100, Digest: "sha256:2222222222222222222222222222222222222222222222222222222222222222"}},
		Subject:     &v1.Descriptor{MediaType: MediaTypeDockerManifest, Digest: digest.Digest(subject), Size: int64(len(dockerImage))},
		Annotations: map[string]string{SkipKeyAnnotation: "abc123"},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	// A record is found by its digest: the same image and key must make the
	// same bytes from one release to the next, or every skip record and
	// runtime cache already pushed stops matching.
	const wantBytes = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1234},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":100}],` +
		`"subject":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:b06ba9be0164edbab4a819f55d5d05472269f99411ad1e41969aad974e61e9d1","size":424},` +
		`"annotations":{"dev.ms-build.skip-key":"abc123"}}`
	if got := string(rec); got != wantBytes {
		t.Errorf("record bytes changed:\n got %s\nwant %s", got, wantBytes)
	}
	if got, err := ConfigDigest([]byte(dockerImage)); err != nil || got != want.Config.Digest.String() {
		t.Errorf("ConfigDigest() = %q, %v", got, err)
	}
}

func TestRecordErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewRecord([]byte(`{}`), "application/vnd.oci.image.index.v1+json", "k", ""); err == nil {
		t.Error("a record of an index was made, want an error")
	}
	if _, err := NewRecord([]byte(`{`), MediaTypeOCIManifest, "k", ""); err == nil {
		t.Error("a record of a broken manifest was made, want an error")
	}
	if _, _, err := ReadRecord([]byte(dockerImage)); !errors.Is(err, ErrNotRecord) {
		t.Errorf("ReadRecord(an image) error = %v, want ErrNotRecord", err)
	}
}

// TestRecordRevision proves a record names the revision that built its
// image, and that a record without one reads as "".
func TestRecordRevision(t *testing.T) {
	t.Parallel()
	const rev = "4f2b9b6e0d4c3a2a1f8c7e6d5b4a39281706f5e4"
	rec, err := NewRecord([]byte(dockerImage), MediaTypeDockerManifest, "abc123", rev)
	if err != nil {
		t.Fatal(err)
	}
	if got := RecordRevision(rec); got != rev {
		t.Errorf("RecordRevision = %q, want %q", got, rev)
	}
	if _, key, err := ReadRecord(rec); err != nil || key != "abc123" {
		t.Errorf("ReadRecord = %q, %v", key, err)
	}
	old, _ := NewRecord([]byte(dockerImage), MediaTypeDockerManifest, "abc123", "")
	if got := RecordRevision(old); got != "" {
		t.Errorf("RecordRevision(a record without one) = %q", got)
	}
	if got := RecordRevision([]byte("{")); got != "" {
		t.Errorf("RecordRevision(junk) = %q", got)
	}
}
