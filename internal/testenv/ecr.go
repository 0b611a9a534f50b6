package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/org/ms-build-action/internal/testenv/ecrlocal"
)

// Backend names the registry an ECR endpoint fronts.
type Backend string

const (
	// GGCR is go-containerregistry's registry behind the endpoint's gate.
	GGCR Backend = "ggcr"
	// DistributionV3 is distribution/v3 with htpasswd (bcrypt) auth, which
	// itself checks the password the endpoint issues.
	DistributionV3 Backend = "distribution"
)

// ECR is the project's ECR-compatible endpoint in front of a real registry,
// for tests that drive the product through the real AWS SDK.
type ECR struct {
	Backend         Backend
	Endpoint        string // for AWS_ENDPOINT_URL_ECR
	Registry        string // host:port, as proxyEndpoint reports it
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string // "" unless Options.SessionToken
	// Client is the test's own SDK client for the endpoint.
	Client *ecr.Client

	mu     sync.Mutex
	issued []string
}

// Options change how StartECR sets an endpoint up.
type Options struct {
	// WrapEndpoint and WrapRegistry wrap the handlers (fault injection).
	WrapEndpoint, WrapRegistry func(http.Handler) http.Handler
	// TokenTTL is how long the registry passwords the endpoint issues last.
	TokenTTL time.Duration
	// SessionToken makes the credentials temporary ones, as from STS.
	SessionToken bool
}

// StartECR starts an endpoint and its registry on loopback; both stop when
// the test ends.
func StartECR(t testing.TB, backend Backend, opts ...Options) *ECR {
	t.Helper()
	var o Options
	for _, x := range opts {
		if x.WrapEndpoint != nil {
			o.WrapEndpoint = x.WrapEndpoint
		}
		if x.WrapRegistry != nil {
			o.WrapRegistry = x.WrapRegistry
		}
		if x.TokenTTL != 0 {
			o.TokenTTL = x.TokenTTL
		}
		o.SessionToken = o.SessionToken || x.SessionToken
	}
	id := func(n int) string {
		return strings.ToUpper(strings.TrimRight(base64.StdEncoding.EncodeToString(randBytes(t, n)), "="))
	}
	e := &ECR{
		Backend:         backend,
		Region:          "eu-west-1",
		AccessKeyID:     "AKIA" + strings.NewReplacer("+", "A", "/", "B").Replace(id(12)),
		SecretAccessKey: base64.StdEncoding.EncodeToString(randBytes(t, 30)),
	}
	wrapEndpoint := func(h http.Handler) http.Handler {
		h = e.recordPasswords(h)
		if o.WrapEndpoint != nil {
			h = o.WrapEndpoint(h)
		}
		return h
	}
	wrapRegistry := func(h http.Handler) http.Handler {
		if o.WrapRegistry != nil {
			h = o.WrapRegistry(h)
		}
		return h
	}
	if o.SessionToken {
		e.SessionToken = base64.StdEncoding.EncodeToString(randBytes(t, 96))
	}
	cfg := ecrlocal.Config{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey, SessionToken: e.SessionToken, Region: e.Region, TokenTTL: o.TokenTTL}

	switch backend {
	case GGCR:
		l, err := ecrlocal.Start(t.Context(), cfg, ecrlocal.WrapEndpoint(wrapEndpoint), ecrlocal.WrapRegistry(wrapRegistry))
		if err != nil {
			t.Fatalf("starting the ECR endpoint: %v", err)
		}
		t.Cleanup(func() { l.Close() })
		e.Endpoint, e.Registry = l.Endpoint, l.Registry
	case DistributionV3:
		password := base64.RawURLEncoding.EncodeToString(randBytes(t, 24))
		dist, _ := Distribution(t, "AWS", password)
		reg := httptest.NewUnstartedServer(nil)
		cfg.RegistryURL = "http://" + reg.Listener.Addr().String()
		cfg.FixedPassword = password
		s, err := ecrlocal.New(cfg)
		if err != nil {
			t.Fatalf("creating the ECR endpoint: %v", err)
		}
		reg.Config.Handler = wrapRegistry(s.Gate(dist))
		reg.Start()
		t.Cleanup(reg.Close)
		api := httptest.NewServer(wrapEndpoint(s.Handler()))
		t.Cleanup(api.Close)
		e.Endpoint, e.Registry = api.URL, reg.Listener.Addr().String()
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	e.Client = ecr.NewFromConfig(aws.Config{
		Region:      e.Region,
		Credentials: credentials.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, e.SessionToken),
	}, func(o *ecr.Options) { o.BaseEndpoint = aws.String(e.Endpoint) })
	return e
}

// Env is the environment that points the AWS SDK at the endpoint.
func (e *ECR) Env() []string {
	env := []string{
		"AWS_ENDPOINT_URL_ECR=" + e.Endpoint,
		"AWS_REGION=" + e.Region,
		"AWS_ACCESS_KEY_ID=" + e.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + e.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}
	if e.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+e.SessionToken)
	}
	return env
}

// Passwords returns every registry password the endpoint has issued.
func (e *ECR) Passwords() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.issued...)
}

// recordPasswords notes the password in every GetAuthorizationToken answer,
// so a test can look for it where it must never be.
func (e *ECR) recordPasswords(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".GetAuthorizationToken") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var out struct {
			AuthorizationData []struct{ AuthorizationToken string } `json:"authorizationData"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &out) == nil {
			for _, d := range out.AuthorizationData {
				if raw, err := base64.StdEncoding.DecodeString(d.AuthorizationToken); err == nil {
					if _, pw, ok := bytes.Cut(raw, []byte(":")); ok {
						e.mu.Lock()
						e.issued = append(e.issued, string(pw))
						e.mu.Unlock()
					}
				}
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
