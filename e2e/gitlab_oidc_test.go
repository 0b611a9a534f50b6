package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/org/ms-build-action/internal/testenv"
)

const gitlabOIDCPipeline = `stages: [build, verify]
include:
  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/ms-build@$CI_COMMIT_SHA
    inputs:
      repository: acme/oidc
      context: app
      network: none
      tags: TAGS
      aws-role-arn: ROLE
      aws-audience: https://gitlab.example.com
      docker-host: DOCKER_HOST_VALUE
      docker-cert-path: ""
      services: []
verify:
  stage: verify
  needs: [ms-build]
  script:
    - echo "digest=$MSB_DIGEST"
    - echo "tag count=$(echo "$MSB_TAGS" | tr ',' '\n' | wc -l)"
    - test "$MSB_IMAGE_URI" = "${MSB_IMAGE_URI%@*}@$MSB_DIGEST"
    - test "$MSB_IMAGE_SIZE_BYTES" -gt 0
    - echo "verified"
`

// oidcRole is the role the component assumes; its trust policy takes this
// project's main branch only, as a GitLab OIDC role does.
const oidcRole = "arn:aws:iam::123456789012:role/ci-ecr-push"

// TestGitLabComponentOIDC runs the component with aws-role-arn under real
// gitlab-ci-local: the job's ID token (gitlab-ci-local has no id_tokens, so
// the test gives MSB_ID_TOKEN as a variable, as GitLab would set it) goes
// to the AWS SDK as a file; the STS endpoint sees it and grants temporary
// credentials; the ECR endpoint sees only those; the push succeeds, and the
// dotenv report of a long tag list fits GitLab's limit. A token whose sub
// the role does not trust fails the job with the role-naming line.
func TestGitLabComponentOIDC(t *testing.T) {
	o := startOIDC(t)
	t.Run("granted", o.testGranted)
	t.Run("refused", o.testRefused)
	t.Run("hostile role", o.testHostileRole)
}

// oidcEnv is an ECR endpoint that takes only temporary credentials, the STS
// endpoint that grants them for oidcRole, and the pipeline's tags.
type oidcEnv struct {
	glci                     string
	e                        *testenv.ECR
	sts                      *testenv.STS
	tags                     []string
	sessionCalls, otherCalls atomic.Int64
}

func startOIDC(t *testing.T) *oidcEnv {
	o := &oidcEnv{glci: tool(t, "gitlab-ci-local", "MSB_REQUIRE_GITLAB_CI_LOCAL")}
	docker := testenv.Docker(t)
	testenv.BaseImages(t, docker)
	o.e = testenv.StartECR(t, testenv.GGCR, testenv.Options{SessionToken: true, WrapEndpoint: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tok := r.Header.Get("X-Amz-Security-Token"); tok != "" && tok == o.e.SessionToken {
				o.sessionCalls.Add(1)
			} else {
				o.otherCalls.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}})
	o.sts = testenv.StartSTS(t, o.e, "https://gitlab.example.com", []string{"https://gitlab.example.com"},
		testenv.STSRole{ARN: oidcRole, Audience: "https://gitlab.example.com", Subject: "project_path:org/ms-build-action:ref_type:branch:ref:main"})
	// GitLab takes input values of at most 1,024 characters: 110 short
	// tags fit there, and as full references with metadata repeating them
	// they would not fit a dotenv report.
	for i := range 110 {
		o.tags = append(o.tags, fmt.Sprintf("rc-%03d", i))
	}
	return o
}

// run runs the pipeline with a token for sub, and checks that the token is
// in no file the job left (the temporary directory, the project) nor in
// the log.
func (o *oidcEnv) run(t *testing.T, role, sub string) (string, string, error) {
	roleYAML, _ := json.Marshal(role) // a YAML double-quoted string
	pipeline := strings.NewReplacer("TAGS", strings.Join(o.tags, ", "), "ROLE", string(roleYAML), "DOCKER_HOST_VALUE", os.Getenv("DOCKER_HOST")).Replace(gitlabOIDCPipeline)
	dir := project(t, map[string]string{".gitlab-ci.yml": pipeline})
	token := o.sts.Token(map[string]any{"aud": "https://gitlab.example.com", "sub": sub})
	args := []string{"--force-shell-executor", "--no-color", "--variable", "MSB_ID_TOKEN=" + token}
	for _, kv := range o.sts.Env() {
		args = append(args, "--variable", kv)
	}
	tmp := t.TempDir()
	cmd := exec.Command(o.glci, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + filepath.Dir(binary) + ":" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + tmp}
	out, err := cmd.CombinedOutput()
	t.Logf("gitlab-ci-local:\n%s", out)
	for _, root := range []string{tmp, dir} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, _ := os.ReadFile(p); strings.Contains(string(b), token) {
					t.Errorf("%s holds the ID token", p)
				}
			}
			return nil
		})
	}
	if strings.Contains(string(out), token) {
		t.Error("the job log holds the ID token")
	}
	return dir, string(out), err
}

func (o *oidcEnv) testGranted(t *testing.T) {
	dir, out, err := o.run(t, oidcRole, "project_path:org/ms-build-action:ref_type:branch:ref:main")
	if err != nil {
		t.Fatalf("gitlab-ci-local: %v", err)
	}
	calls := o.sts.Calls()
	if len(calls) == 0 || calls[0].Code != "" || calls[0].RoleARN != oidcRole || calls[0].Subject != "project_path:org/ms-build-action:ref_type:branch:ref:main" {
		t.Errorf("STS calls = %+v, want the role granted to the token's subject", calls)
	}
	if o.sessionCalls.Load() == 0 || o.otherCalls.Load() != 0 {
		t.Errorf("ECR calls with the role's session: %d, without: %d; want only the former", o.sessionCalls.Load(), o.otherCalls.Load())
	}
	d, err := o.e.Client.DescribeImages(t.Context(), &awsecr.DescribeImagesInput{RepositoryName: aws.String("acme/oidc")})
	if err != nil || len(d.ImageDetails) == 0 {
		t.Fatalf("nothing was pushed to acme/oidc: %v", err)
	}
	for _, want := range []string{"verified", "tag count=110", "MSB_METADATA was left out"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	report := dotenvReport(t, dir)
	if len(report) >= 5120 || !strings.Contains(report, "MSB_IMAGE_URI=") || !strings.Contains(report, "MSB_DIGEST=sha256:") {
		t.Errorf("the dotenv report is %d bytes (want under 5120) with MSB_IMAGE_URI and MSB_DIGEST:\n%s", len(report), report)
	}
	t.Logf("dotenv report with %d tags: %d bytes", len(o.tags), len(report))
}

func (o *oidcEnv) testRefused(t *testing.T) {
	before := len(o.sts.Calls())
	_, out, err := o.run(t, oidcRole, "project_path:org/ms-build-action:ref_type:branch:ref:feature")
	if err == nil {
		t.Fatal("gitlab-ci-local succeeded with a token the role does not trust")
	}
	if calls := o.sts.Calls()[before:]; len(calls) == 0 || calls[0].Code != "AccessDenied" {
		t.Errorf("STS calls = %+v, want AccessDenied", calls)
	}
	for _, want := range []string{
		"STS refused the ID token for role " + oidcRole + " (AccessDenied): check the role's trust policy",
		`gitlab.example.com:sub condition must match the token's sub ("project_path:org/ms-build-action:ref_type:branch:ref:feature")`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	if strings.Contains(out, "no AWS credentials were found") {
		t.Error("the log sends the user to configure-aws-credentials")
	}
}

// testHostileRole: a role ARN with quotes, command substitutions and
// workflow-command text reaches STS as it is, runs nothing, and is named
// as given.
func (o *oidcEnv) testHostileRole(t *testing.T) {
	pwned := filepath.Join(t.TempDir(), "pwned")
	role := `arn:aws:iam::123456789012:role/x"$(touch ` + pwned + `)'$(touch ` + pwned + `)'` + "`touch " + pwned + "`%25::stop-commands::"
	before := len(o.sts.Calls())
	_, out, err := o.run(t, role, "project_path:org/ms-build-action:ref_type:branch:ref:main")
	if err == nil {
		t.Fatal("gitlab-ci-local succeeded with a role STS does not know")
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Errorf("the role ARN ran as shell code: %s exists", pwned)
	}
	if calls := o.sts.Calls()[before:]; len(calls) == 0 || calls[0].RoleARN != role || calls[0].Code != "AccessDenied" {
		t.Errorf("STS calls = %+v, want the role as given, refused", calls)
	}
	if !strings.Contains(out, "STS refused the ID token for role arn:aws:iam::123456789012:role/x") {
		t.Error("the log lacks the role-naming line")
	}
}

// dotenvReport is the component job's dotenv report as gitlab-ci-local
// kept it.
func dotenvReport(t *testing.T, dir string) string {
	t.Helper()
	var report string
	filepath.WalkDir(filepath.Join(dir, ".gitlab-ci-local"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p) == "ms-build.env" {
			b, _ := os.ReadFile(p)
			report = string(b)
		}
		return nil
	})
	if report == "" {
		t.Fatal("found no dotenv report")
	}
	return report
}
