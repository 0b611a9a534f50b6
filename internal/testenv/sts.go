package testenv

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// STS is an AWS STS-compatible endpoint (the query protocol: a form-encoded
// POST, an XML answer) for AssumeRoleWithWebIdentity, the call the AWS SDK
// makes with AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE. It plays IAM too:
// one OIDC provider (an issuer and its audiences, whose tokens it signs
// itself) and the roles that trust it. A role it grants gets the ECR
// endpoint's temporary credentials, which that endpoint then checks, so a
// push proves the whole exchange.
type STS struct {
	Endpoint string // for AWS_ENDPOINT_URL_STS
	// Issuer is the provider's URL, the tokens' iss: a GitLab instance.
	Issuer string
	// Audiences are the provider's client IDs: a token's aud must be one.
	Audiences []string

	ecr   *ECR
	key   []byte
	roles map[string]STSRole
	now   func() time.Time

	mu    sync.Mutex
	calls []STSCall
}

// STSRole is a role and the conditions of its trust policy on the
// provider's tokens, as StringLike patterns (* and ?).
type STSRole struct {
	ARN      string
	Audience string // the <provider>:aud condition; "" for none
	Subject  string // the <provider>:sub condition
}

// STSCall is one AssumeRoleWithWebIdentity the endpoint answered.
type STSCall struct {
	RoleARN, Subject, Audience string
	Code                       string // the error code, "" when granted
}

// StartSTS starts an STS endpoint on loopback whose roles are granted the
// temporary credentials of e (started with Options{SessionToken: true}).
func StartSTS(t testing.TB, e *ECR, issuer string, audiences []string, roles ...STSRole) *STS {
	t.Helper()
	if e.SessionToken == "" {
		t.Fatal("StartSTS: the ECR endpoint must take temporary credentials (Options{SessionToken: true})")
	}
	s := &STS{Issuer: issuer, Audiences: audiences, ecr: e, key: randBytes(t, 32), roles: map[string]STSRole{}, now: time.Now}
	for _, r := range roles {
		s.roles[r.ARN] = r
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.Endpoint = srv.URL
	return s
}

// Env points the AWS SDK at the ECR and STS endpoints, with no credentials:
// they must come from the role.
func (s *STS) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_ECR=" + s.ecr.Endpoint,
		"AWS_ENDPOINT_URL_STS=" + s.Endpoint,
		"AWS_REGION=" + s.ecr.Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Token is an ID token of the provider (a JWT, HS256 with the endpoint's
// key) with these claims; iss, iat and exp are added when missing.
func (s *STS) Token(claims map[string]any) string {
	c := map[string]any{"iss": s.Issuer, "iat": s.now().Unix(), "exp": s.now().Add(5 * time.Minute).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	payload, _ := json.Marshal(c)
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	return signed + "." + enc.EncodeToString(s.sign(signed))
}

// Calls returns the calls answered so far.
func (s *STS) Calls() []STSCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *STS) sign(data string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// stsError is an error as STS's query protocol carries it.
type stsError struct {
	status        int
	code, message string
}

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

func (s *STS) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		writeSTSError(w, stsError{http.StatusBadRequest, "InvalidAction", "Could not find operation for this request."})
		return
	}
	if a := r.PostForm.Get("Action"); a != "AssumeRoleWithWebIdentity" {
		writeSTSError(w, stsError{http.StatusBadRequest, "InvalidAction", "Could not find operation " + a + " for version " + r.PostForm.Get("Version")})
		return
	}
	role, token := r.PostForm.Get("RoleArn"), r.PostForm.Get("WebIdentityToken")
	claims, serr := s.assume(role, token)
	s.mu.Lock()
	s.calls = append(s.calls, STSCall{RoleARN: role, Subject: claims.Sub, Audience: claims.Aud, Code: serr.code})
	s.mu.Unlock()
	if serr.code != "" {
		writeSTSError(w, serr)
		return
	}
	writeSTSCredentials(w, s, role, r.PostForm.Get("RoleSessionName"), claims)
}

type idClaims struct {
	Iss, Sub, Aud string
	Exp           int64
}

// assume checks a token and a role as STS and IAM do, in the order they
// report: the token (signature, issuer, audience, expiry), then the role's
// trust policy, which answers the same for a role that does not exist.
func (s *STS) assume(role, token string) (idClaims, stsError) {
	invalid := func(msg string) stsError { return stsError{http.StatusBadRequest, "InvalidIdentityToken", msg} }
	var c idClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, invalid("The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	payload, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || err2 != nil || json.Unmarshal(payload, &c) != nil {
		return idClaims{}, invalid("The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)")
	}
	switch now := s.now().Unix(); {
	case c.Iss != s.Issuer:
		return c, invalid("No OpenIDConnect provider found in your account for " + c.Iss)
	case !hmac.Equal(sig, s.sign(parts[0]+"."+parts[1])):
		return c, invalid("The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.")
	case !slices.Contains(s.Audiences, c.Aud):
		return c, invalid("Incorrect token audience")
	case c.Exp <= now:
		return c, stsError{http.StatusBadRequest, "ExpiredTokenException", "Token expired: current date/time " + strconv.FormatInt(now, 10) + " must be before the expiration date/time " + strconv.FormatInt(c.Exp, 10)}
	}
	r, ok := s.roles[role]
	if !ok || !stringLike(r.Subject, c.Sub) || (r.Audience != "" && !stringLike(r.Audience, c.Aud)) {
		return c, stsError{http.StatusForbidden, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"}
	}
	return c, stsError{}
}

// stringLike matches IAM's StringLike: * any run of characters, ? one.
func stringLike(pattern, s string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(s)
}

func writeSTSError(w http.ResponseWriter, e stsError) {
	type errorResponse struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Error   struct {
			Type, Code, Message string
		}
		RequestId string
	}
	var out errorResponse
	out.Xmlns, out.RequestId = stsNamespace, requestID()
	out.Error.Type, out.Error.Code, out.Error.Message = "Sender", e.code, e.message
	writeXML(w, e.status, out)
}

func writeSTSCredentials(w http.ResponseWriter, s *STS, role, session string, c idClaims) {
	type credentials struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
	type result struct {
		Credentials                 credentials
		SubjectFromWebIdentityToken string
		AssumedRoleUser             struct{ Arn, AssumedRoleId string }
		Provider, Audience          string
	}
	type response struct {
		XMLName          xml.Name `xml:"AssumeRoleWithWebIdentityResponse"`
		Xmlns            string   `xml:"xmlns,attr"`
		Result           result   `xml:"AssumeRoleWithWebIdentityResult"`
		ResponseMetadata struct{ RequestId string }
	}
	out := response{Xmlns: stsNamespace}
	out.Result.Credentials = credentials{s.ecr.AccessKeyID, s.ecr.SecretAccessKey, s.ecr.SessionToken,
		s.now().Add(time.Hour).UTC().Format(time.RFC3339)}
	out.Result.SubjectFromWebIdentityToken, out.Result.Audience = c.Sub, c.Aud
	out.Result.Provider = strings.TrimPrefix(c.Iss, "https://")
	name := role[strings.LastIndex(role, "/")+1:]
	account := strings.Split(role, ":")[min(4, len(strings.Split(role, ":"))-1)]
	out.Result.AssumedRoleUser.Arn = fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, name, session)
	out.Result.AssumedRoleUser.AssumedRoleId = "AROA" + strings.ToUpper(hexID()) + ":" + session
	out.ResponseMetadata.RequestId = requestID()
	writeXML(w, http.StatusOK, out)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID())
	w.WriteHeader(status)
	w.Write(append([]byte(xml.Header), b...))
}

func requestID() string {
	h := hexID() + hexID()
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func hexID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
