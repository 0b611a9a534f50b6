package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/smithy-go"
)

// stsRefused is the error code of STS refusing a web identity token or the
// role it was traded for (AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE:
// GitLab's id_tokens, any OIDC), or "" for any other error.
func stsRefused(err error) string {
	var (
		op  *smithy.OperationError
		api smithy.APIError
	)
	if !errors.As(err, &op) || op.Service() != "STS" || op.Operation() != "AssumeRoleWithWebIdentity" || !errors.As(op.Err, &api) {
		return ""
	}
	switch c := api.ErrorCode(); c {
	case "AccessDenied", "InvalidIdentityToken", "IDPRejectedClaim", "ExpiredTokenException":
		return c
	}
	return ""
}

// roleHint says which role STS refused and what of its trust policy to
// check, with the claims of the token that was refused (read from its file,
// unverified: the claims are no secret, the token is never printed).
func roleHint(code string, getenv func(string) string) string {
	role := getenv("AWS_ROLE_ARN")
	c := tokenClaims(getenv("AWS_WEB_IDENTITY_TOKEN_FILE"))
	if code == "ExpiredTokenException" {
		return fmt.Sprintf(" (STS refused the ID token for role %s: it expired; run the job again, and start ms-build early in it)", role)
	}
	provider := "the IAM OIDC provider of the token's issuer"
	if c.Iss != "" {
		provider = fmt.Sprintf("the IAM OIDC provider for %q", c.Iss)
	}
	host := strings.TrimPrefix(c.Iss, "https://")
	if host == "" {
		host = "<provider>"
	}
	return fmt.Sprintf(" (STS refused the ID token for role %s (%s): check the role's trust policy: its Federated principal must be %s,"+
		" whose audiences and the %s:aud condition must include the token's aud (%q: the component's aws-audience input),"+
		" and the %s:sub condition must match the token's sub (%q), e.g. project_path:group/project:ref_type:branch:ref:main)",
		role, code, provider, host, c.Aud, host, c.Sub)
}

type idClaims struct {
	Iss, Sub, Aud string
}

// tokenClaims reads a JWT's iss, sub and aud; none when the file is not one.
func tokenClaims(path string) idClaims {
	var c idClaims
	f, err := os.Open(path)
	if path == "" || err != nil {
		return c
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	parts := strings.Split(strings.TrimSpace(string(b)), ".")
	if err != nil || len(parts) != 3 {
		return c
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	var raw struct {
		Iss, Sub string
		Aud      json.RawMessage
	}
	if err != nil || json.Unmarshal(payload, &raw) != nil {
		return c
	}
	c.Iss, c.Sub = raw.Iss, raw.Sub
	var auds []string
	if json.Unmarshal(raw.Aud, &c.Aud) != nil && json.Unmarshal(raw.Aud, &auds) == nil {
		c.Aud = strings.Join(auds, ",")
	}
	return c
}
