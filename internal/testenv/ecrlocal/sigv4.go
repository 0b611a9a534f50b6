package ecrlocal

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	// maxClockSkew is how far a request's X-Amz-Date may be from the server's clock, as with AWS.
	maxClockSkew = 15 * time.Minute
	// signingService is the service name in ECR's credential scope.
	signingService = "ecr"
)

// sigV4Header is the parsed Authorization header of a SigV4 request.
type sigV4Header struct {
	accessKeyID   string
	date          string // yyyymmdd of the credential scope
	region        string
	service       string
	signedHeaders []string
	signature     string
}

func parseSigV4Header(h string) (sigV4Header, bool) {
	algorithm, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || algorithm != sigV4Algorithm {
		return sigV4Header{}, false
	}
	var out sigV4Header
	var credential, signed string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return sigV4Header{}, false
		}
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			out.signature = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || signed == "" || out.signature == "" {
		return sigV4Header{}, false
	}
	out.accessKeyID, out.date, out.region, out.service = scope[0], scope[1], scope[2], scope[3]
	out.signedHeaders = strings.Split(signed, ";")
	return out, true
}

// authenticate checks r's SigV4 signature over body. Its errors never contain the secret or either
// signature.
func (s *Server) authenticate(r *http.Request, body []byte) error {
	raw := r.Header.Get("Authorization")
	if raw == "" {
		return &apiError{status: http.StatusForbidden, code: "MissingAuthenticationTokenException",
			message: "Missing Authentication Token"}
	}
	h, ok := parseSigV4Header(raw)
	if !ok {
		return &apiError{status: http.StatusBadRequest, code: "IncompleteSignatureException",
			message: "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters with algorithm " + sigV4Algorithm}
	}
	if subtle.ConstantTimeCompare([]byte(h.accessKeyID), []byte(s.accessKeyID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Amz-Security-Token")), []byte(s.session)) != 1 {
		return &apiError{status: http.StatusForbidden, code: "UnrecognizedClientException",
			message: "The security token included in the request is invalid."}
	}
	invalid := func(msg string) error {
		return &apiError{status: http.StatusForbidden, code: "InvalidSignatureException", message: msg}
	}
	if h.service != signingService {
		return invalid("Credential should be scoped to correct service: '" + signingService + "'.")
	}
	if h.region != s.region {
		return invalid("Credential should be scoped to a valid region.")
	}
	signed := map[string]bool{}
	for _, name := range h.signedHeaders {
		signed[name] = true
	}
	if !signed["host"] || !signed["x-amz-date"] {
		return invalid("'Host' and 'X-Amz-Date' must be signed headers in the AWS Authorization.")
	}
	if s.session != "" && !signed["x-amz-security-token"] {
		return invalid("'X-Amz-Security-Token' must be a signed header when temporary credentials are used.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signingTime, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return invalid("X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'.")
	}
	if h.date != signingTime.Format("20060102") {
		return invalid("Credential should be scoped to a valid date: the scope's date must be the date of X-Amz-Date.")
	}
	now := s.now().UTC()
	switch {
	case signingTime.Before(now.Add(-maxClockSkew)):
		return invalid("Signature expired: " + amzDate + " is now earlier than " +
			now.Add(-maxClockSkew).Format(amzDateFormat) + " (" + now.Format(amzDateFormat) + " - 15 min.)")
	case signingTime.After(now.Add(maxClockSkew)):
		return invalid("Signature not yet current: " + amzDate + " is still later than " +
			now.Add(maxClockSkew).Format(amzDateFormat) + " (" + now.Format(amzDateFormat) + " + 15 min.)")
	}

	// Rebuild the request as the client signed it: the same method, path, query and host, and only the
	// headers it listed; then sign it again with our secret and compare.
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	clone := &http.Request{Method: r.Method, URL: &u, Host: r.Host, Header: http.Header{}}
	for name := range signed {
		switch name {
		case "host":
		case "content-length":
			clone.ContentLength = int64(len(body))
		default:
			if v, ok := r.Header[http.CanonicalHeaderKey(name)]; ok {
				clone.Header[http.CanonicalHeaderKey(name)] = slices.Clone(v)
			} else {
				// A signed header that did not arrive: sign it as empty so the signature cannot match.
				clone.Header[http.CanonicalHeaderKey(name)] = []string{""}
			}
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: s.accessKeyID, SecretAccessKey: s.secretKey}
	if err := s.signer.SignHTTP(r.Context(), creds, clone, hex.EncodeToString(sum[:]), signingService,
		s.region, signingTime); err != nil {
		return invalid("The request signature could not be computed.")
	}
	want, ok := parseSigV4Header(clone.Header.Get("Authorization"))
	if !ok || subtle.ConstantTimeCompare([]byte(want.signature), []byte(h.signature)) != 1 ||
		strings.Join(want.signedHeaders, ";") != strings.Join(h.signedHeaders, ";") {
		return invalid("The request signature we calculated does not match the signature you provided. " +
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}
