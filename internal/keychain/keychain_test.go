package keychain_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-cmp/cmp"

	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/ecr"
	"github.com/org/ms-build-action/internal/keychain"
)

func TestECRRegion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host   string
		region string
		ok     bool
	}{
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com", "eu-west-1", true},
		{"210987654321.dkr.ecr.us-east-2.amazonaws.com", "us-east-2", true},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1", true},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1", true},
		{"123456789012.dkr-ecr.ap-southeast-2.on.aws", "ap-southeast-2", true},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com:443", "", false},
		{"12345678901.dkr.ecr.eu-west-1.amazonaws.com", "", false},
		{"public.ecr.aws", "", false},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example", "", false},
		{"evil.example/123456789012.dkr.ecr.eu-west-1.amazonaws.com", "", false},
		{"ghcr.io", "", false},
		{"127.0.0.1:5000", "", false},
		{"registry-1.docker.io", "", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			region, ok := keychain.ECRRegion(tc.host)
			if region != tc.region || ok != tc.ok {
				t.Errorf("ECRRegion(%q) = %q, %v, want %q, %v", tc.host, region, ok, tc.region, tc.ok)
			}
		})
	}
}

// fakeECR issues a token per call, naming its region in the password.
type fakeECR struct {
	ecr.API // panics on any other call
	region  string
	mu      sync.Mutex
	calls   int
	ttl     time.Duration
}

func (f *fakeECR) GetAuthorizationToken(context.Context, *awsecr.GetAuthorizationTokenInput, ...func(*awsecr.Options)) (*awsecr.GetAuthorizationTokenOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	pw := "token-" + f.region + "-" + string(rune('0'+f.calls))
	ttl := f.ttl
	if ttl == 0 {
		ttl = 12 * time.Hour
	}
	return &awsecr.GetAuthorizationTokenOutput{AuthorizationData: []types.AuthorizationData{{
		AuthorizationToken: aws.String(base64.StdEncoding.EncodeToString([]byte("AWS:" + pw))),
		ProxyEndpoint:      aws.String("https://111111111111.dkr.ecr." + f.region + ".amazonaws.com"),
		ExpiresAt:          aws.Time(time.Now().Add(ttl)),
	}}}, nil
}

// regions makes a fake client per region and counts them.
type regions struct {
	mu  sync.Mutex
	by  map[string]*fakeECR
	err error
	ttl time.Duration
}

func (r *regions) client(_ context.Context, region string) (ecr.API, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	if r.by == nil {
		r.by = map[string]*fakeECR{}
	}
	if r.by[region] == nil {
		r.by[region] = &fakeECR{region: region, ttl: r.ttl}
	}
	return r.by[region], nil
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func auth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// TestCredentials: each host gets its own login, and only its own: ECR
// hosts a token of their region (one fetch per region, kept), other hosts
// the Docker config's login (Docker Hub under any of its names), anonymous
// for the rest. Every password is masked once before it is handed out.
func TestCredentials(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, `{"auths": {
		"ghcr.io": {"auth": "`+auth("gh-user", "gh-pass")+`"},
		"127.0.0.1:5000": {"auth": "`+auth("local", "local-pass")+`"},
		"https://index.docker.io/v1/": {"auth": "`+auth("hub-user", "hub-pass")+`"},
		"quay.io": {"identitytoken": "quay-refresh"}
	}}`)
	var r regions
	var mu sync.Mutex
	var masked []string
	k := keychain.New(keychain.Options{ECR: r.client, DockerConfig: cfg, Mask: func(s string) {
		mu.Lock()
		defer mu.Unlock()
		masked = append(masked, s)
	}})
	for _, tc := range []struct {
		host string
		want build.Auth
	}{
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com", build.Auth{Host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Username: "AWS", Password: "token-eu-west-1-1"}},
		{"210987654321.dkr.ecr.eu-west-1.amazonaws.com", build.Auth{Host: "210987654321.dkr.ecr.eu-west-1.amazonaws.com", Username: "AWS", Password: "token-eu-west-1-1"}},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com", build.Auth{Host: "123456789012.dkr.ecr.us-east-1.amazonaws.com", Username: "AWS", Password: "token-us-east-1-1"}},
		{"ghcr.io", build.Auth{Host: "ghcr.io", Username: "gh-user", Password: "gh-pass"}},
		{"127.0.0.1:5000", build.Auth{Host: "127.0.0.1:5000", Username: "local", Password: "local-pass"}},
		{"127.0.0.1:5001", build.Auth{}},
		{"registry-1.docker.io", build.Auth{Host: "registry-1.docker.io", Username: "hub-user", Password: "hub-pass"}},
		{"docker.io", build.Auth{Host: "docker.io", Username: "hub-user", Password: "hub-pass"}},
		{"index.docker.io", build.Auth{Host: "index.docker.io", Username: "hub-user", Password: "hub-pass"}},
		{"quay.io", build.Auth{Host: "quay.io", Password: "quay-refresh"}},
		{"gcr.io", build.Auth{}},
	} {
		got, err := k.Credentials(t.Context(), tc.host)
		if err != nil {
			t.Fatalf("Credentials(%q) = %v", tc.host, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Credentials(%q) (-want +got):\n%s", tc.host, diff)
		}
	}
	// Asked again: kept, not fetched again.
	if _, err := k.Credentials(t.Context(), "123456789012.dkr.ecr.eu-west-1.amazonaws.com"); err != nil {
		t.Fatal(err)
	}
	for region, f := range r.by {
		if f.calls != 1 {
			t.Errorf("region %s: %d token fetches, want 1", region, f.calls)
		}
	}
	want := []string{"token-eu-west-1-1", "token-us-east-1-1", "gh-pass", "local-pass", "hub-pass", "quay-refresh"}
	if diff := cmp.Diff(want, masked); diff != "" {
		t.Errorf("masked (-want +got):\n%s", diff)
	}
}

// TestCredentialsTokenRenewed: a token that runs out within the margin is
// fetched again.
func TestCredentialsTokenRenewed(t *testing.T) {
	t.Parallel()
	r := regions{ttl: 10 * time.Minute}
	k := keychain.New(keychain.Options{ECR: r.client})
	host := "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
	for range 2 {
		if _, err := k.Credentials(t.Context(), host); err != nil {
			t.Fatal(err)
		}
	}
	if got := r.by["eu-west-1"].calls; got != 2 {
		t.Errorf("%d token fetches, want 2 (the token was about to run out)", got)
	}
}

// TestCredentialsECRUnavailable: without a usable AWS login an ECR host
// takes the Docker config's login, and fails, naming the host, when there
// is none; other hosts are not affected.
func TestCredentialsECRUnavailable(t *testing.T) {
	t.Parallel()
	withLogin := "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
	without := "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
	cfg := writeConfig(t, `{"auths": {"`+withLogin+`": {"auth": "`+auth("AWS", "from-docker-login")+`"}}}`)
	r := regions{err: errors.New("no AWS credentials")}
	k := keychain.New(keychain.Options{ECR: r.client, DockerConfig: cfg})

	got, err := k.Credentials(t.Context(), withLogin)
	if err != nil || got.Password != "from-docker-login" {
		t.Errorf("Credentials(%q) = %+v, %v, want the Docker config's login", withLogin, got, err)
	}
	_, err = k.Credentials(t.Context(), without)
	if err == nil || !strings.Contains(err.Error(), without) || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Errorf("Credentials(%q) = %v, want an error naming the host and the cause", without, err)
	}
	if got, err := k.Credentials(t.Context(), "ghcr.io"); err != nil || got != (build.Auth{}) {
		t.Errorf("Credentials(ghcr.io) = %+v, %v, want anonymous", got, err)
	}
}

// TestCredentialsNoConfig: without an ECR client, ECR hosts are the Docker
// config's; with no config.json at all, every host is anonymous.
func TestCredentialsNoConfig(t *testing.T) {
	t.Parallel()
	k := keychain.New(keychain.Options{DockerConfig: t.TempDir()})
	for _, h := range []string{"123456789012.dkr.ecr.eu-west-1.amazonaws.com", "ghcr.io", "registry-1.docker.io"} {
		if got, err := k.Credentials(t.Context(), h); err != nil || got != (build.Auth{}) {
			t.Errorf("Credentials(%q) = %+v, %v, want anonymous", h, got, err)
		}
	}
}

// TestCredentialsBadConfig: a Docker config that cannot be read fails the
// lookup, naming where it is, and never printing its content.
func TestCredentialsBadConfig(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, `{"auths": {"ghcr.io": {"auth": "secret-looking`)
	k := keychain.New(keychain.Options{DockerConfig: cfg})
	_, err := k.Credentials(t.Context(), "ghcr.io")
	if err == nil || !strings.Contains(err.Error(), cfg) || strings.Contains(err.Error(), "secret-looking") {
		t.Errorf("Credentials() = %v, want an error naming %s without the file's content", err, cfg)
	}
}
