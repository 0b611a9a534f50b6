package ecrlocal_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/org/ms-build-action/internal/testenv/ecrlocal"
)

// registryGet sends GET path to the registry with optional Basic credentials and returns the status,
// the first OCI error code, and the raw response.
func registryGet(t *testing.T, host, path, user, password string) (int, string, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+host+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(raw, &body)
	code := ""
	if len(body.Errors) > 0 {
		code = body.Errors[0].Code
	}
	return resp.StatusCode, code, string(raw), resp.Header
}

func TestGateAuthentication(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := start(t, ecrlocal.Config{Now: clock.Now, TokenTTL: time.Hour})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "app", "")

	for _, tc := range []struct {
		name           string
		user, password string
		wantStatus     int
		wantCode       string
	}{
		{name: "no credentials", wantStatus: http.StatusUnauthorized, wantCode: "UNAUTHORIZED"},
		{name: "wrong password", user: "AWS", password: "not-issued", wantStatus: http.StatusUnauthorized, wantCode: "UNAUTHORIZED"},
		{name: "wrong user", user: "docker", password: password, wantStatus: http.StatusUnauthorized, wantCode: "UNAUTHORIZED"},
		{name: "issued password", user: "AWS", password: password, wantStatus: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/v2/", "/v2/app/tags/list"} {
				status, code, raw, header := registryGet(t, host, path, tc.user, tc.password)
				if status != tc.wantStatus || code != tc.wantCode {
					t.Errorf("GET %s = %d %s, want %d %s", path, status, code, tc.wantStatus, tc.wantCode)
				}
				if status == http.StatusUnauthorized && !strings.HasPrefix(header.Get("WWW-Authenticate"), "Basic realm=") {
					t.Errorf("GET %s: WWW-Authenticate = %q, want a Basic challenge", path, header.Get("WWW-Authenticate"))
				}
				if strings.Contains(raw, password) {
					t.Errorf("GET %s: the response holds the password", path)
				}
			}
		})
	}
}

func TestGateRefusesExpiredToken(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := start(t, ecrlocal.Config{Now: clock.Now, TokenTTL: time.Hour})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "app", "")
	mustPush(t, host, "app", "v1", password, randomImage(t, 1))

	clock.Add(time.Hour)
	status, code, raw, _ := registryGet(t, host, "/v2/", "AWS", password)
	if status != http.StatusForbidden || code != "DENIED" || !strings.Contains(raw, "Your authorization token has expired") {
		t.Errorf("GET /v2/ with an expired token = %d %s %s, want 403 DENIED with ECR's message", status, code, raw)
	}
	if err := push(t.Context(), host, "app", "v2", password, randomImage(t, 1)); err == nil {
		t.Errorf("push with an expired token succeeded")
	} else if _, status := registryCode(err); status != http.StatusForbidden {
		t.Errorf("push with an expired token: status %d, want 403 (err %v)", status, err)
	}

	// Authenticating again gets a fresh token that works. (The SDK's clock is an hour behind the
	// endpoint's now: it corrects the skew as it does against AWS.)
	fresh, _ := login(t, c)
	mustPush(t, host, "app", "v2", fresh, randomImage(t, 1))
}

func TestGateRefusesUncreatedRepository(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	c := clientFor(l)
	password, host := login(t, c)

	err := push(t.Context(), host, "team/never-created", "v1", password, randomImage(t, 1))
	if code, status := registryCode(err); code != "NAME_UNKNOWN" || status != http.StatusNotFound {
		t.Errorf("push to an uncreated repository: %d %q, want 404 NAME_UNKNOWN (err %v)", status, code, err)
	}
	_, _, raw, _ := registryGet(t, host, "/v2/team/never-created/tags/list", "AWS", password)
	if want := "The repository with name 'team/never-created' does not exist in the registry with id '" + l.RegistryID + "'"; !strings.Contains(raw, want) {
		t.Errorf("NAME_UNKNOWN body = %s, want it to contain %q", raw, want)
	}
	if status, code, _, _ := registryGet(t, host, "/v2/_catalog", "AWS", password); status != http.StatusMethodNotAllowed || code != "UNSUPPORTED" {
		t.Errorf("GET /v2/_catalog = %d %s, want 405 UNSUPPORTED", status, code)
	}

	// Names with slashes reach the right repository once it exists.
	createRepository(t, c, "team/never-created", "")
	mustPush(t, host, "team/never-created", "v1", password, randomImage(t, 1))
}

func TestGateImmutableTags(t *testing.T) {
	t.Parallel()
	l := start(t, ecrlocal.Config{})
	c := clientFor(l)
	password, host := login(t, c)
	createRepository(t, c, "locked", types.ImageTagMutabilityImmutable)
	first := randomImage(t, 1)
	digest := mustPush(t, host, "locked", "v1", password, first)

	for _, tc := range []struct {
		name    string
		tag     string
		image   func() error
		wantErr string
	}{
		{name: "different image under an existing tag", wantErr: "TAG_INVALID",
			image: func() error { return push(t.Context(), host, "locked", "v1", password, randomImage(t, 1)) }},
		// ECR refuses an immutable tag even for the image it already names. (go-containerregistry skips
		// the manifest PUT when the tag already names the image; docker and buildkit send it.)
		{name: "same image under an existing tag", wantErr: "TAG_INVALID",
			image: func() error { return putManifest(t, host, "locked", "v1", password, first) }},
		{name: "new tag", image: func() error { return push(t.Context(), host, "locked", "v2", password, randomImage(t, 1)) }},
		{name: "by digest", image: func() error { return push(t.Context(), host, "locked", "", password, randomImage(t, 1)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.image()
			code, status := registryCode(err)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("push error = %v, want none", err)
			case tc.wantErr != "" && (code != tc.wantErr || status != http.StatusBadRequest):
				t.Errorf("push = %d %q (err %v), want 400 %s", status, code, err, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), "cannot be overwritten because the tag is immutable"):
				t.Errorf("push error %q lacks ECR's wording", err)
			}
		})
	}

	out, err := c.DescribeImages(t.Context(), &ecr.DescribeImagesInput{RepositoryName: aws.String("locked"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	if err != nil {
		t.Fatalf("DescribeImages() error = %v", err)
	}
	if got, want := aws.ToString(out.ImageDetails[0].ImageDigest), digest.String(); got != want {
		t.Errorf("v1 = %s after refused pushes, want %s", got, want)
	}
}

// putManifest PUTs img's manifest under tag, as docker push does even when the tag already names it.
func putManifest(t *testing.T, host, repo, tag, password string, img v1.Image) error {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://"+host+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(mt))
	req.SetBasicAuth("AWS", password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusCreated)
}
