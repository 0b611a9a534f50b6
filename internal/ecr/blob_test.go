package ecr

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/opencontainers/go-digest"

	"github.com/org/ms-build-action/internal/registry"
)

// TestBlob: a blob is read with the last login's credentials in one GET,
// ECR's redirect to its storage is followed without them, and the bytes
// are checked; no error holds the password.
func TestBlob(t *testing.T) {
	t.Parallel()
	const password = "pa55-blob-secret"
	config := []byte(`{"history":[{"created_by":"RUN make"}]}`)
	d := digest.FromBytes(config).String()
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "storage takes a signed URL, not credentials", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write(config)
		case "/wrong":
			_, _ = w.Write([]byte(`{"history":[]}`))
		}
	}))
	t.Cleanup(storage.Close)
	// The storage is another host: localhost, where the registry is 127.0.0.1.
	storageURL := strings.Replace(storage.URL, "127.0.0.1", "localhost", 1)
	var gets int
	target := "/ok" // where the registry sends a reader of d
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets++
		if u, p, ok := r.BasicAuth(); !ok || u != "AWS" || p != password {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch strings.TrimPrefix(r.URL.Path, "/v2/team/app/blobs/") {
		case d:
			http.Redirect(w, r, storageURL+target, http.StatusTemporaryRedirect)
		case "sha256:" + strings.Repeat("0", 64):
			w.WriteHeader(http.StatusNotFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(reg.Close)
	api := &fake{auth: func(*ecr.GetAuthorizationTokenInput) (*ecr.GetAuthorizationTokenOutput, error) {
		return &ecr.GetAuthorizationTokenOutput{AuthorizationData: []types.AuthorizationData{{
			AuthorizationToken: aws.String(base64.StdEncoding.EncodeToString([]byte("AWS:" + password))),
			ProxyEndpoint:      aws.String(reg.URL),
		}}}, nil
	}}
	r := New(api, "", "team/app")
	if _, err := r.Blob(t.Context(), d); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Errorf("Blob before Login = %v, want an error saying so", err)
	}
	if _, err := r.Login(t.Context()); err != nil {
		t.Fatal(err)
	}
	body, err := r.Blob(t.Context(), d)
	if err != nil || string(body) != string(config) {
		t.Fatalf("Blob = %q, %v; want the config", body, err)
	}
	if gets != 1 {
		t.Errorf("%d requests to the registry, want 1", gets)
	}
	target = "/wrong"
	for _, tc := range []struct {
		name, digest string
		want         error
		says         string
	}{
		{"wrong bytes", d, nil, "do not match"},
		{"missing", "sha256:" + strings.Repeat("0", 64), registry.ErrNotFound, "not found"},
		{"registry down", "sha256:" + strings.Repeat("1", 64), registry.ErrUnavailable, "503"},
		{"not a digest", "latest", nil, "not a digest"},
	} {
		_, err := r.Blob(t.Context(), tc.digest)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: Blob = %v, want an error saying %q", tc.name, err, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), password) {
			t.Errorf("%s: the error holds the password: %v", tc.name, err)
		}
	}
}

func TestScheme(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com": "https",
		"127.0.0.1:5000": "http", "localhost:5000": "http", "[::1]:5000": "http", "localhost": "http",
		"10.0.0.1:5000": "https",
	} {
		if got := scheme(host); got != want {
			t.Errorf("scheme(%q) = %s, want %s", host, got, want)
		}
	}
}
