package cache

import (
	"crypto/sha256"
	"encoding/base64"
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
	rec, err := NewRecord([]byte(dockerImage), MediaTypeDockerManifest, "abc123", RecordInfo{})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewRecord([]byte(dockerImage), MediaTypeDockerManifest, "abc123", RecordInfo{})
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
		Annotations: map[string]string{SkipKeyAnnotation: "abc123", ImageAnnotation: base64.StdEncoding.EncodeToString([]byte(dockerImage))},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	// A record is found by its digest: the same image and key must make the
	// same bytes from one release to the next, or every skip record and
	// runtime cache already pushed stops matching. (The image's manifest
	// joined the record on purpose, so that a skip needs one request: a
	// record of the earlier format is still read, and the next build of its
	// inputs writes the new one.)
	wantBytes := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1234},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":100}],` +
		`"subject":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:b06ba9be0164edbab4a819f55d5d05472269f99411ad1e41969aad974e61e9d1","size":424},` +
		`"annotations":{"dev.ms-build.image-manifest":"` + base64.StdEncoding.EncodeToString([]byte(dockerImage)) + `","dev.ms-build.skip-key":"abc123"}}`
	if got := string(rec); got != wantBytes {
		t.Errorf("record bytes changed:\n got %s\nwant %s", got, wantBytes)
	}
	if got, err := ConfigDigest([]byte(dockerImage)); err != nil || got != want.Config.Digest.String() {
		t.Errorf("ConfigDigest() = %q, %v", got, err)
	}
}

// An index's record holds its first image's config and every image's
// layers, and its size is its largest image's, as ECR counts an index.
func TestRecordIndex(t *testing.T) {
	t.Parallel()
	arm := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":99,"digest":"sha256:4444444444444444444444444444444444444444444444444444444444444444"},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":300,"digest":"sha256:5555555555555555555555555555555555555555555555555555555555555555"}]}`
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`
	const indexType = "application/vnd.oci.image.index.v1+json"
	if _, err := NewRecord([]byte(index), indexType, "k", RecordInfo{}); err == nil {
		t.Error("an index's record without its images' manifests: want an error")
	}
	rec, err := NewRecord([]byte(index), indexType, "k", RecordInfo{Platforms: [][]byte{[]byte(dockerImage), []byte(arm)}})
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(rec, &m); err != nil {
		t.Fatal(err)
	}
	if m.Config.Digest != "sha256:1111111111111111111111111111111111111111111111111111111111111111" || len(m.Layers) != 2 || m.Layers[1].Size != 300 {
		t.Errorf("index record = %s, want the first image's config and both images' layers", rec)
	}
	rd, err := ReadRecorded(rec)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Size != 300 || rd.MediaType != indexType || string(rd.Manifest) != index {
		t.Errorf("ReadRecorded() = size %d, type %s, manifest %q; want 300 (the largest image), the index and its bytes", rd.Size, rd.MediaType, rd.Manifest)
	}
}

func TestRecorded(t *testing.T) {
	t.Parallel()
	rec, err := NewRecord([]byte(dockerImage), MediaTypeDockerManifest, "abc123", RecordInfo{Registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadRecorded(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := Recorded{Digest: digest.FromString(dockerImage).String(), SkipKey: "abc123", Manifest: []byte(dockerImage), MediaType: MediaTypeDockerManifest, Size: 100, Registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadRecorded() (-want +got):\n%s", diff)
	}
	// A record of the earlier format carries no manifest and no registry.
	old := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1234},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":100}],` +
		`"subject":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + want.Digest + `","size":424},"annotations":{"dev.ms-build.skip-key":"abc123"}}`
	got, err = ReadRecorded([]byte(old))
	want.Manifest, want.Registry = nil, ""
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("ReadRecorded(an earlier record) = %+v, %v; want %+v", got, err, want)
	}
}

func TestRecordErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewRecord([]byte(`{}`), "application/vnd.oci.image.index.v1+json", "k", RecordInfo{}); err == nil {
		t.Error("a record of an index was made, want an error")
	}
	if _, err := NewRecord([]byte(`{`), MediaTypeOCIManifest, "k", RecordInfo{}); err == nil {
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
	rec, err := NewRecord([]byte(dockerImage), MediaTypeDockerManifest, "abc123", RecordInfo{Revision: rev})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ReadRecorded(rec); err != nil || got.Revision != rev {
		t.Errorf("ReadRecorded().Revision = %q, %v; want %q", got.Revision, err, rev)
	}
	if _, key, err := ReadRecord(rec); err != nil || key != "abc123" {
		t.Errorf("ReadRecord = %q, %v", key, err)
	}
	old, _ := NewRecord([]byte(dockerImage), MediaTypeDockerManifest, "abc123", RecordInfo{})
	if got, err := ReadRecorded(old); err != nil || got.Revision != "" {
		t.Errorf("ReadRecorded(a record without one).Revision = %q, %v", got.Revision, err)
	}
	if _, err := ReadRecorded([]byte("{")); err == nil {
		t.Error("ReadRecorded(junk) succeeded")
	}
}
