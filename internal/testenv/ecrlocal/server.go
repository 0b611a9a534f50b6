package ecrlocal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	// targetPrefix is the service part of X-Amz-Target in the ECR JSON 1.1 protocol.
	targetPrefix = "AmazonEC2ContainerRegistry_V20150921."
	// jsonContentType is the content type of ECR requests and responses.
	jsonContentType = "application/x-amz-json-1.1"
	// maxRequestBytes bounds a request body; ECR manifests are at most 4 MiB.
	maxRequestBytes = 16 << 20
	// DefaultRegistryID is the account id used when Config.RegistryID is empty.
	DefaultRegistryID = "123456789012"
	// DefaultTokenTTL is how long an issued registry password is valid, as with ECR.
	DefaultTokenTTL = 12 * time.Hour
)

// Config configures a Server.
type Config struct {
	// AccessKeyID and SecretAccessKey are the only credentials the endpoint accepts (SigV4).
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, makes them temporary credentials (as STS issues,
	// for OIDC): requests must carry it as X-Amz-Security-Token, signed.
	SessionToken string
	// Region is the region requests must be signed for, and the region in repository ARNs.
	Region string
	// RegistryID is the 12-digit account id that owns the registry (DefaultRegistryID when empty).
	RegistryID string
	// RegistryURL is the registry's base URL as clients reach it, e.g. http://127.0.0.1:5000. It is
	// returned as proxyEndpoint, its host starts every repositoryUri, and the endpoint itself calls the
	// registry (through the gate) there.
	RegistryURL string
	// TokenTTL is how long an issued registry password stays valid (DefaultTokenTTL when zero).
	TokenTTL time.Duration
	// FixedPassword, when set, is the password every GetAuthorizationToken issues instead of a random
	// one, so that a registry with its own htpasswd file can check it (tests only). Issuing it again
	// renews its expiry, including the endpoint's own use of it.
	FixedPassword string
	// Now is the clock for token expiry, signature skew and push times (time.Now when nil).
	Now func() time.Time
	// Transport carries the endpoint's own requests to the registry (a clone of
	// http.DefaultTransport when nil).
	Transport http.RoundTripper
	// Logger receives debug lines; nothing is logged when nil. Secrets are never logged.
	Logger *slog.Logger
}

// Server is an ECR-compatible endpoint (Handler) and the gate that guards a registry with the
// passwords it issues (Gate). Both are plain http.Handlers.
type Server struct {
	accessKeyID string
	secretKey   string
	session     string
	region      string
	registryID  string
	registryURL string
	host        string // RegistryURL without its scheme, as repositoryUri and the product use it
	now         func() time.Time
	log         *slog.Logger
	signer      *v4.Signer
	tokens      *tokenStore
	registry    *registryClient

	mu        sync.Mutex
	repos     map[string]*repository
	manifests map[string]*manifestInfo // by digest; content-addressed, so shared by repositories
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, errors.New("creating ECR endpoint: access key id and secret access key are required")
	}
	if cfg.Region == "" {
		return nil, errors.New("creating ECR endpoint: region is required")
	}
	u, err := url.Parse(cfg.RegistryURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("creating ECR endpoint: registry URL %q must be http(s)://host[:port]", cfg.RegistryURL)
	}
	if cfg.RegistryID == "" {
		cfg.RegistryID = DefaultRegistryID
	}
	if !registryIDPattern.MatchString(cfg.RegistryID) {
		return nil, fmt.Errorf("creating ECR endpoint: registry id %q is not 12 digits", cfg.RegistryID)
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		accessKeyID: cfg.AccessKeyID,
		secretKey:   cfg.SecretAccessKey,
		session:     cfg.SessionToken,
		region:      cfg.Region,
		registryID:  cfg.RegistryID,
		registryURL: strings.TrimSuffix(cfg.RegistryURL, "/"),
		host:        u.Host,
		now:         cfg.Now,
		log:         cfg.Logger,
		signer:      v4.NewSigner(),
		tokens:      newTokenStore(cfg.TokenTTL, cfg.FixedPassword, cfg.Now),
		repos:       map[string]*repository{},
		manifests:   map[string]*manifestInfo{},
	}
	s.registry = &registryClient{
		base:     &url.URL{Scheme: u.Scheme, Host: u.Host},
		client:   &http.Client{Transport: cfg.Transport},
		password: s.tokens.self,
	}
	return s, nil
}

// RegistryHost is the registry's host[:port], the first part of every repositoryUri.
func (s *Server) RegistryHost() string { return s.host }

// RegistryID is the account id of the registry.
func (s *Server) RegistryID() string { return s.registryID }

// operation handles one ECR operation: body is the request's JSON, the result is marshalled as the
// response.
type operation func(ctx context.Context, s *Server, body []byte) (any, error)

// op adapts a typed handler: the body is decoded into In first.
func op[In any](f func(ctx context.Context, s *Server, in *In) (any, error)) operation {
	return func(ctx context.Context, s *Server, body []byte) (any, error) {
		var in In
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &in); err != nil {
				return nil, invalidParameter("Invalid request body: %s", jsonProblem(err))
			}
		}
		return f(ctx, s, &in)
	}
}

// jsonProblem describes a decoding error without quoting the request.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field '%s' must be a %s", typeErr.Field, typeErr.Type)
	}
	return "the body is not valid JSON"
}

var operations = map[string]operation{
	"GetAuthorizationToken":         op(getAuthorizationToken),
	"CreateRepository":              op(createRepository),
	"DescribeRepositories":          op(describeRepositories),
	"DeleteRepository":              op(deleteRepository),
	"PutImageTagMutability":         op(putImageTagMutability),
	"PutImageScanningConfiguration": op(putImageScanningConfiguration),
	"PutLifecyclePolicy":            op(putLifecyclePolicy),
	"GetLifecyclePolicy":            op(getLifecyclePolicy),
	"DeleteLifecyclePolicy":         op(deleteLifecyclePolicy),
	"DescribeImages":                op(describeImages),
	"ListImages":                    op(listImages),
	"BatchGetImage":                 op(batchGetImage),
	"PutImage":                      op(putImage),
	"BatchDeleteImage":              op(batchDeleteImage),
}

// Handler returns the ECR JSON API: POST / with X-Amz-Target, SigV4-signed.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveAPI) }

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	// The Date header lets the SDK correct its clock skew against ours, as it does against AWS.
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	w.Header().Set("X-Amzn-RequestId", newRequestID())
	name := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if err != nil {
		s.writeError(w, name, invalidParameter("Request body could not be read or exceeds %d bytes", maxRequestBytes))
		return
	}
	if err := s.authenticate(r, body); err != nil {
		s.writeError(w, name, err)
		return
	}
	handle, ok := operations[name]
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("X-Amz-Target"), targetPrefix) || !ok {
		s.writeError(w, name, &apiError{status: http.StatusBadRequest, code: "UnknownOperationException",
			message: "The operation is not supported by this endpoint"})
		return
	}
	out, err := handle(r.Context(), s, body)
	if err != nil {
		s.writeError(w, name, err)
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		s.writeError(w, name, fmt.Errorf("encoding %s response: %w", name, err))
		return
	}
	s.log.Debug("ecr request", "operation", name, "status", http.StatusOK)
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) writeError(w http.ResponseWriter, operation string, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.Error("ecr request failed", "operation", operation, "error", err)
		ae = errServer
	}
	s.log.Debug("ecr request", "operation", operation, "status", ae.status, "error", ae.code)
	body, _ := json.Marshal(map[string]string{"__type": ae.code, "message": ae.message})
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-ErrorType", ae.code)
	w.WriteHeader(ae.status)
	_, _ = w.Write(body)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// epochSeconds marshals a time as ECR does: seconds since the epoch as a JSON number, with milliseconds.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	return fmt.Appendf(nil, "%s%d.%03d", sign, ms/1000, ms%1000), nil
}
