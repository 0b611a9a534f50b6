// Command ms-build builds a multi-stage Dockerfile with BuildKit, caches its
// build stage, pushes the runtime image to Amazon ECR and reports its digest
// and size. It runs as a GitHub Action, a GitLab CI/CD component or a CLI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
	"github.com/docker/docker/client"

	"github.com/org/ms-build-action/internal/action"
	"github.com/org/ms-build-action/internal/build/docker"
	"github.com/org/ms-build-action/internal/ecr"
	"github.com/org/ms-build-action/internal/pipeline"
	"github.com/org/ms-build-action/internal/testenv/ecrlocal"
)

// version is set at release time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	// GitHub cancels a step with SIGINT, then SIGTERM; GitLab with SIGTERM.
	// The first cancels the run (the build in the engine too); a second
	// stops at once.
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "ms-build: %v: cancelling\n", s)
		cancel()
		<-sigs
		os.Exit(1)
	}()
	code := realMain(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(code)
}

// usageError is a command line that cannot be run; it exits with 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// realMain runs the command and returns its exit code: 0 done, 1 failed,
// 2 usage.
func realMain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	ci := action.DetectCI(action.Host{Getenv: getenv, ReadFile: os.ReadFile, Git: gitHead})
	var rep action.Reporter
	switch ci.Provider {
	case action.GitHub:
		rep = action.NewGitHub(stdout, getenv)
	case action.GitLab:
		dotenv := getenv("MSB_DOTENV")
		if dotenv == "" {
			dotenv = "ms-build.env"
		}
		rep = action.NewGitLab(stdout, dotenv, time.Now)
	default:
		rep = action.NewPlain(stdout, stderr)
	}
	err := run(ctx, args, getenv, ci, rep, stdout, stderr)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ms-build: %s\nRun 'ms-build --help' for the flags.\n", ue.msg)
		return 2
	case ctx.Err() != nil:
		rep.Annotate(action.Annotation{Level: action.Error, Message: "cancelled: " + err.Error()})
		return 1
	}
	rep.Annotate(action.Annotation{Level: action.Error, Message: err.Error() + hint(err)})
	return 1
}

// hint adds what to do to the errors whose cause is known.
func hint(err error) string {
	msg := err.Error()
	var oe *smithy.OperationError
	switch {
	case strings.Contains(msg, "failed to retrieve credentials") || strings.Contains(msg, "get credentials"):
		return " (no AWS credentials were found: use aws-actions/configure-aws-credentials with OIDC, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE; or try dry-run: true)"
	case errors.As(err, &oe) && strings.Contains(msg, "exceeded maximum number of attempts"):
		return fmt.Sprintf(" (ECR kept failing on %s after %d attempts: check AWS's service health and the network, then run again)", oe.Operation(), ecrAttempts)
	case strings.Contains(msg, "AccessDenied"):
		return " (the AWS credentials lack a permission: see the IAM permissions in the README)"
	}
	return ""
}

func run(ctx context.Context, args []string, getenv func(string) string, ci action.CI, rep action.Reporter, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ms-build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := action.Flags(fs)
	fs.Usage = func() { usage(fs, stderr) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()}
	}
	switch fs.Arg(0) {
	case "":
	case "version":
		fmt.Fprintln(stdout, "ms-build", version)
		return nil
	case "help":
		usage(fs, stdout)
		return nil
	default:
		return &usageError{msg: fmt.Sprintf("unknown command %q: ms-build takes flags, or 'version'", fs.Arg(0))}
	}

	in, err := action.Parse(action.Merge(action.FromEnv(getenv), flags()), action.Environment{Getenv: getenv, CI: ci})
	if err != nil {
		return err
	}

	dc, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("setting up the Docker client (DOCKER_HOST=%q): %w", getenv("DOCKER_HOST"), err)
	}
	defer dc.Close()

	var engineOpts []docker.EngineOption
	if getenv("MSB_CONTEXT") == "tar" {
		engineOpts = append(engineOpts, docker.WithTarContext())
	}
	p := &pipeline.Pipeline{
		Engine: docker.NewEngine(dc, engineOpts...),
		Report: rep,
		CI:     ci,
		Now:    time.Now,
	}
	if in.DryRun {
		// The embedded endpoint and registry start when the run connects:
		// after the inputs, the Dockerfile and the engine are checked.
		var local *ecrlocal.Local
		defer func() {
			if local != nil {
				local.Close()
			}
		}()
		p.Registry = func(ctx context.Context) (*ecr.Registry, error) {
			var err error
			if local, err = ecrlocal.Start(ctx, ecrlocal.Config{Region: in.Region}); err != nil {
				return nil, fmt.Errorf("starting the dry-run registry: %w", err)
			}
			rep.Infof("Dry run: pushing to an embedded registry at %s (no AWS account used)", local.Registry)
			cfg := aws.Config{
				Region:           in.Region,
				Credentials:      credentials.NewStaticCredentialsProvider(local.AccessKeyID, local.SecretAccessKey, ""),
				RetryMaxAttempts: ecrAttempts,
			}
			return ecr.New(awsecr.NewFromConfig(cfg, func(o *awsecr.Options) { o.BaseEndpoint = aws.String(local.Endpoint) }), ""), nil
		}
	} else {
		p.Registry = func(ctx context.Context) (*ecr.Registry, error) {
			cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(in.Region), config.WithRetryMaxAttempts(ecrAttempts))
			if err != nil {
				return nil, fmt.Errorf("loading AWS configuration: %w", err)
			}
			return ecr.New(awsecr.NewFromConfig(cfg), in.RegistryID), nil
		}
	}
	_, err = p.Run(ctx, in)
	return err
}

// ecrAttempts is how many times an ECR call is tried: throttling and server
// errors are retried by the SDK with growing, jittered pauses (about 15 s in
// all before it gives up).
const ecrAttempts = 5

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, `ms-build builds a multi-stage Dockerfile with BuildKit and pushes the runtime image to Amazon ECR.

Usage:
  ms-build [flags]          build and push (inputs also come from INPUT_<NAME> variables)
  ms-build --dry-run        build and push to an embedded registry: no AWS account needed
  ms-build version          print the version

Flags (the same names as the GitHub Action's and the GitLab component's inputs):
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintf(w, `
Exit codes: 0 done, 1 failed, 2 usage.
`)
}

// gitHead asks git for the commit and branch on a laptop; no git, no answer.
func gitHead() (sha, branch string) {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "", ""
	}
	sha = strings.TrimSpace(string(out))
	if out, err := exec.Command("git", "symbolic-ref", "--short", "-q", "HEAD").Output(); err == nil {
		branch = strings.TrimSpace(string(out))
	}
	return sha, branch
}
