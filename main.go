// Command ms-build builds a multi-stage Dockerfile with BuildKit, caches its
// build stage, pushes the runtime image to Amazon ECR and reports its digest
// and size. It runs as a GitHub Action, a GitLab CI/CD component or a CLI.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
	"github.com/moby/moby/client"

	"github.com/org/ms-build-action/internal/action"
	"github.com/org/ms-build-action/internal/build"
	"github.com/org/ms-build-action/internal/build/buildkit"
	"github.com/org/ms-build-action/internal/build/docker"
	"github.com/org/ms-build-action/internal/ecr"
	"github.com/org/ms-build-action/internal/keychain"
	"github.com/org/ms-build-action/internal/ociregistry"
	"github.com/org/ms-build-action/internal/pipeline"
	"github.com/org/ms-build-action/internal/registry"
	msbretry "github.com/org/ms-build-action/internal/retry"
)

// version and commit are set at release time with -ldflags
// "-X main.version=v1.2.3 -X main.commit=<the released commit>";
// scripts/action-binary checks that a release binary reports both. When it
// builds the action from source it sets version alone.
var (
	version = "dev"
	commit  = ""
)

// versionString says what ran: the version set at build time, else the
// module's version (go install ...@v1.2.3), else the commit the Go build
// recorded from its git checkout: "dev (3f2a1bc4e5f6, 2026-11-28T10:00:00Z,
// modified)".
func versionString(v string, read func() (*debug.BuildInfo, bool)) string {
	if v != "dev" {
		return v
	}
	bi, ok := read()
	if !ok {
		return v
	}
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" && !strings.Contains(mv, "+dirty") && bi.Main.Sum != "" {
		return mv
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return v + " (no revision recorded: built without git, or with -buildvcs=false)"
	}
	details := []string{rev[:min(12, len(rev))]}
	if at != "" {
		details = append(details, at)
	}
	if modified {
		details = append(details, "modified")
	}
	return v + " (" + strings.Join(details, ", ") + ")"
}

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
	ci := action.DetectCI(action.Host{Getenv: getenv, ReadFile: os.ReadFile})
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
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "error: %s\n", ue.msg)
		return 2
	case ctx.Err() != nil:
		rep.Annotate(action.Annotation{Level: action.Error, Message: "cancelled: " + err.Error()})
		return 1
	}
	a := action.Annotation{Level: action.Error, Message: err.Error() + hint(err, getenv)}
	var de *pipeline.DockerfileError
	if errors.As(err, &de) {
		a.Title, a.File, a.Line = "Dockerfile", de.File, de.Line
	}
	rep.Annotate(a)
	return 1
}

// hint adds what to do to the errors whose cause is known, by their types.
func hint(err error, getenv func(string) string) string {
	var (
		noCreds *noCredentialsError
		op      *smithy.OperationError
		api     smithy.APIError
	)
	switch {
	case errors.As(err, &noCreds) && stsRefused(noCreds.err) != "":
		return roleHint(stsRefused(noCreds.err), getenv)
	case errors.As(err, &noCreds):
		return " (no AWS credentials were found: use aws-actions/configure-aws-credentials with OIDC, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE; or try dry-run: true)"
	case errors.As(err, &api) && strings.HasPrefix(api.ErrorCode(), "AccessDenied"):
		return " (the AWS credentials lack a permission: see the IAM permissions in the README)"
	case errors.As(err, &op) && errors.As(err, new(*retry.MaxAttemptsError)):
		return fmt.Sprintf(" (ECR kept failing on %s after %d attempts: check AWS's service health and the network, then run again)", op.Operation(), msbretry.ECRAttempts)
	}
	return ""
}

func run(ctx context.Context, args []string, getenv func(string) string, ci action.CI, rep action.Reporter, stdout, stderr io.Writer) error {
	flags, err := parseCommandLine(args, stdout)
	if flags == nil || err != nil {
		return err
	}
	rep.Infof("ms-build %s", versionText())
	env, err := action.FromEnv(getenv)
	if err != nil {
		return err
	}
	raw := action.Merge(env, flags)
	if ci.Provider == action.Local {
		// Outside CI, the commit, branch and tags come from git in the
		// build context's checkout.
		dir := strings.TrimSpace(raw["context"])
		ci = action.DetectCI(action.Host{Getenv: getenv, Git: func() action.Checkout { return gitCheckout(dir) }, Origin: func() string { return gitOrigin(dir) }})
	}
	in, err := action.Parse(raw, action.Environment{Getenv: getenv, CI: ci})
	if err != nil {
		return err
	}
	maskSecrets(in, rep)
	if len(in.Images) > 0 {
		return merge(ctx, in, getenv, rep)
	}
	builder, engine, closeBuilder, err := newBuilder(ctx, in, getenv)
	if err != nil {
		return err
	}
	defer closeBuilder()
	p := &pipeline.Pipeline{Builder: builder, Log: logTo{rep}, Now: time.Now, Keychain: newKeychain(getenv, rep)}
	if in.Push {
		pub, closePub, err := publisher(ctx, in, getenv, rep)
		if err != nil {
			return err
		}
		defer closePub()
		p.Publisher = pub
	}
	res, err := p.Run(ctx, runInput(in, ci))
	if engine != nil && strings.HasPrefix(engine.ContextTransfer(), "tar (") {
		t := engine.ContextTransfer()
		rep.Annotate(action.Annotation{Level: action.Notice, Title: "build context",
			Message: "the engine did not take a BuildKit session, so the whole context was sent as a tar, as every build will be: " + strings.TrimPrefix(t, "tar ") + ". Set MSB_CONTEXT=tar to skip the attempt."})
	}
	return report(rep, in, res, err)
}

// newBuilder connects to where the build runs: a standalone BuildKit daemon
// when builder names one, else the Docker engine at DOCKER_HOST (returned
// as engine too, for what only it reports).
func newBuilder(ctx context.Context, in *action.Inputs, getenv func(string) string) (pipeline.Builder, *docker.Engine, func(), error) {
	b := in.Builder
	if b.BuildKit() {
		bk, err := buildkit.New(ctx, b.Address, buildkit.TLS{CA: b.CA, Cert: b.Cert, Key: b.Key}, b.Platforms)
		if err != nil {
			return nil, nil, nil, err
		}
		return bk, nil, func() { bk.Close() }, nil
	}
	dc, err := client.New(client.FromEnv) // negotiates the API version (daemons from API 1.40)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("setting up the Docker client (DOCKER_HOST=%q): %w", getenv("DOCKER_HOST"), err)
	}
	var opts []docker.EngineOption
	if getenv("MSB_CONTEXT") == "tar" {
		opts = append(opts, docker.WithTarContext())
	}
	if len(b.Platforms) == 1 {
		opts = append(opts, docker.WithPlatform(b.Platforms[0]))
	}
	e := docker.NewEngine(dc, opts...)
	return e, e, func() { dc.Close() }, nil
}

// merge publishes the per-platform images that separate runs pushed as one
// index: no engine is needed.
func merge(ctx context.Context, in *action.Inputs, getenv func(string) string, rep action.Reporter) error {
	pub, closePub, err := publisher(ctx, in, getenv, rep)
	if err != nil {
		return err
	}
	defer closePub()
	p := &pipeline.Pipeline{Publisher: pub, Log: logTo{rep}, Now: time.Now}
	// The notices about tags apply; those about the build caches do not.
	var notices []string
	for _, n := range in.Notices {
		if strings.HasPrefix(n, "tags:") {
			notices = append(notices, n)
		}
	}
	res, err := p.Merge(ctx, pipeline.MergeInput{
		Repository: in.Repository, Images: in.Images, Platforms: in.Builder.Platforms,
		Tags: in.Tags, Release: in.Release, MaxImageSize: in.MaxImageSize, Notices: notices,
	})
	return report(rep, in, res, err)
}

// parseCommandLine reads the flags: the inputs set on the command line. It
// returns none when the command was done (version, help). A command line
// that cannot be run is a *usageError of one line, which says what to type.
func parseCommandLine(args []string, stdout io.Writer) (map[string]string, error) {
	fs := flag.NewFlagSet("ms-build", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the errors are ours: one line, with flags as they are typed
	flags := action.Flags(fs)
	fs.Usage = func() {}
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return nil, err
	}
	switch a := fs.Arg(0); a {
	case "":
	case "merge":
		// Its flags follow the word.
		if done, err := parseFlags(fs, fs.Args()[1:], stdout); done || err != nil {
			return nil, err
		}
		if fs.NArg() > 0 {
			return nil, &usageError{msg: fmt.Sprintf("unexpected %s after merge: merge takes flags only (a boolean takes its value with '=': --push=false)", printable(fs.Arg(0))) + helpPointer}
		}
		if _, ok := flags()["images"]; !ok {
			return nil, &usageError{msg: "merge needs --images: the digests (or image-uri outputs) of the images each platform's run pushed, e.g. ms-build merge --repository=team/app --images=sha256:...,sha256:..."}
		}
	case "version":
		fmt.Fprintln(stdout, "ms-build", versionText())
		return nil, nil
	case "help":
		usage(stdout)
		return nil, nil
	case "true", "false":
		// The flag package stops at a boolean flag's separate value
		// (--push false): a boolean takes its value with =.
		if name := strings.TrimLeft(args[len(args)-fs.NArg()-1], "-"); action.IsBoolFlag(name) {
			return nil, &usageError{msg: fmt.Sprintf("--%s takes its value with '=': --%s=%s", name, name, a)}
		}
		fallthrough
	default:
		return nil, &usageError{msg: fmt.Sprintf("unknown command %q: ms-build takes flags, or 'merge', 'version' or 'help'", fs.Arg(0)) + helpPointer}
	}
	return flags(), nil
}

// parseFlags parses args into fs, and says whether the command was done
// (help was asked for).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (bool, error) {
	if err := checkFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return true, nil
		}
		return true, err
	}
	if err := fs.Parse(args); err != nil {
		return true, &usageError{msg: err.Error() + helpPointer}
	}
	return false, nil
}

// printable is a word from the command line as an error can show it: on
// one line, not too long.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }) {
		return strconv.Quote(s)
	}
	return s
}

const helpPointer = " (ms-build --help lists the flags)"

// checkFlags reads the flags as the flag package will, to answer a flag it
// does not know, or one left without its value, in the CLI's words:
// "unknown flag --contxt: did you mean --context?". It returns flag.ErrHelp
// for -h and --help.
func checkFlags(fs *flag.FlagSet, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return nil // the flags end here
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		switch {
		case name == "h" || name == "help":
			return flag.ErrHelp
		case f == nil:
			msg := "unknown flag --" + printable(name)
			if match, ok := action.ClosestFlag(name); ok {
				msg += fmt.Sprintf(": did you mean --%s?", match)
			}
			return &usageError{msg: msg + helpPointer}
		case hasValue || action.IsBoolFlag(name):
		case i+1 == len(args):
			return &usageError{msg: fmt.Sprintf("--%s needs a value: --%s=VALUE", name, name)}
		default:
			i++ // its value
		}
	}
	return nil
}

// report publishes the run's outputs and summary. A failed run reports its
// outputs only when it attached tags: they say exactly which.
func report(rep action.Reporter, in *action.Inputs, res pipeline.Result, err error) error {
	out := outputs(res)
	if err != nil {
		if len(out.Tags) > 0 {
			_ = rep.Outputs(out)
		}
		return err
	}
	if err := rep.Outputs(out); err != nil {
		return err
	}
	return rep.Summary(action.Summary{
		Outputs:    out,
		Repository: in.Repository,
		Target:     res.Target,
		BuildStage: res.BuildStage,
		DryRun:     in.DryRun,
		Pushed:     in.Push,
		Timings:    timings(res.Timings),
		SizeChange: res.SizeChange,
	})
}

// publisher connects to where the run pushes: ECR, or for a dry run an
// embedded registry (started only now, after the inputs are checked).
func publisher(ctx context.Context, in *action.Inputs, getenv func(string) string, rep action.Reporter) (pipeline.Publisher, func(), error) {
	if in.DryRun {
		e := &embedded{repo: in.Repository, dir: dryRunDir(getenv), rep: rep}
		return e, e.close, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(in.Region), config.WithRetryer(ecrRetryer))
	if err != nil {
		return nil, nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	cfg.Credentials = credentials{cfg.Credentials}
	return ecr.New(awsecr.NewFromConfig(cfg), in.RegistryID, in.Repository), func() {}, nil
}

// newKeychain answers for the registries the build pulls from other than
// the one pushed to: ECR hosts with a token from their region (AWS
// configuration is loaded only when one is asked about, so a dry run
// needs none), others from the user's Docker config.
func newKeychain(getenv func(string) string, rep action.Reporter) *keychain.Keychain {
	dir := getenv("DOCKER_CONFIG")
	if dir == "" && getenv("HOME") != "" {
		dir = filepath.Join(getenv("HOME"), ".docker")
	}
	return keychain.New(keychain.Options{
		DockerConfig: dir,
		Mask:         func(secret string) { mask(rep, secret) },
		ECR: func(ctx context.Context, region string) (ecr.API, error) {
			cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region), config.WithRetryer(ecrRetryer))
			if err != nil {
				return nil, fmt.Errorf("loading AWS configuration: %w", err)
			}
			cfg.Credentials = credentials{cfg.Credentials}
			return awsecr.NewFromConfig(cfg), nil
		},
	})
}

// credentials marks a failure to find AWS credentials, which the SDK
// reports as text only, so that its hint can be chosen by type.
type credentials struct{ aws.CredentialsProvider }

func (c credentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if c.CredentialsProvider == nil {
		return aws.Credentials{}, &noCredentialsError{errors.New("no credential provider")}
	}
	cr, err := c.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return cr, &noCredentialsError{err}
	}
	return cr, nil
}

// noCredentialsError is the AWS SDK finding no credentials.
type noCredentialsError struct{ err error }

func (e *noCredentialsError) Error() string { return e.err.Error() }
func (e *noCredentialsError) Unwrap() error { return e.err }

// embedded is the dry run's publisher: an in-process registry, started when
// the run first asks it something (after the inputs, the Dockerfile and the
// engine are checked), and stopped when the run ends. It keeps what it
// stores in a directory between runs (dir), so that a dry run of the same
// commit again shows the cache hit or the skip; one run at a time uses the
// directory, and a run that finds it in use gets a registry of its own.
type embedded struct {
	pipeline.Publisher // set when the registry starts
	repo               string
	dir                string
	rep                action.Reporter
	local              *ociregistry.Local
}

// dryRunDir is where the dry run's registry keeps its data:
// MSB_DRY_RUN_DIR, else ms-build/dry-run-registry in the user's cache
// directory (XDG_CACHE_HOME, else ~/.cache); "" (a directory of its own,
// removed at the end) when neither can be had.
func dryRunDir(getenv func(string) string) string {
	if d := getenv("MSB_DRY_RUN_DIR"); d != "" {
		return d
	}
	cache := getenv("XDG_CACHE_HOME")
	if cache == "" && getenv("HOME") != "" {
		cache = filepath.Join(getenv("HOME"), ".cache")
	}
	if cache == "" {
		return ""
	}
	return filepath.Join(cache, "ms-build", "dry-run-registry")
}

func (e *embedded) start(ctx context.Context) error {
	if e.local != nil {
		return nil
	}
	local, err := ociregistry.Start(ctx, e.dir)
	if errors.Is(err, ociregistry.ErrInUse) {
		e.rep.Annotate(action.Annotation{Level: action.Notice, Title: "dry run",
			Message: "another dry run uses " + e.dir + ": this one pushes to a registry of its own, emptied when it ends"})
		e.dir = ""
		local, err = ociregistry.Start(ctx, "")
	}
	if err != nil {
		return fmt.Errorf("starting the dry-run registry: %w", err)
	}
	e.local, e.Publisher = local, ociregistry.New(local.Host(), e.repo)
	where := "kept in " + e.dir + " for the next dry run"
	if e.dir == "" {
		where = "emptied when the run ends"
	}
	e.rep.Infof("Dry run: pushing to an embedded registry at %s, %s (no AWS account used)", local.Host(), where)
	return nil
}

func (e *embedded) Login(ctx context.Context) (registry.Login, error) {
	if err := e.start(ctx); err != nil {
		return registry.Login{}, err
	}
	return e.Publisher.Login(ctx)
}

// Lookup is a skip's first question: it starts the registry, which holds
// what earlier dry runs stored.
func (e *embedded) Lookup(ctx context.Context, tags []string) (map[string]registry.Manifest, error) {
	if err := e.start(ctx); err != nil {
		return nil, err
	}
	return e.Publisher.Lookup(ctx, tags)
}

func (e *embedded) close() {
	if e.local != nil {
		e.local.Close()
	}
}

// maskSecrets registers every secret value the inputs hold, before anything
// can print one: build secrets, and build arguments taken from the
// environment (where CI systems keep secrets). A secret file is masked, whole
// and line by line, when it is text of at most 64 KiB (a token, a .npmrc, a
// key); a bigger or binary file is not read here: nothing of ours prints it,
// and a step that prints it prints what no mask of ours would match.
func maskSecrets(in *action.Inputs, rep action.Reporter) {
	const maxMasked = 64 << 10
	for _, s := range in.Secrets {
		v := s.Value
		if s.File != "" {
			v = nil
			if f, err := os.Open(s.File); err == nil {
				b, err := io.ReadAll(io.LimitReader(f, maxMasked+1))
				f.Close()
				if err == nil && len(b) <= maxMasked && utf8.Valid(b) && !bytes.ContainsRune(b, 0) {
					v = b
				}
			}
		}
		mask(rep, string(v))
	}
	for _, a := range in.BuildArgs {
		if a.FromEnv {
			mask(rep, a.Value)
		}
	}
	mask(rep, string(in.Builder.Key))
}

// mask registers a value and each of its lines: a multi-line secret (a key,
// a certificate) is printed a line at a time.
func mask(rep action.Reporter, v string) {
	if strings.TrimSpace(v) == "" {
		return
	}
	rep.Mask(v)
	for line := range strings.Lines(v) {
		if line = strings.TrimSpace(line); len(line) >= 4 && line != v {
			rep.Mask(line)
		}
	}
}

// runInput maps the front end's inputs and the CI's facts into the run's input.
func runInput(in *action.Inputs, ci action.CI) pipeline.Input {
	args := make(map[string]string, len(in.BuildArgs))
	for _, a := range in.BuildArgs {
		args[a.Key] = a.Value
	}
	return pipeline.Input{
		Context:          in.Context,
		File:             in.File,
		Workspace:        ci.Workspace,
		Target:           in.Target,
		BuildStage:       in.BuildStage,
		BuildArgs:        args,
		Network:          in.Network,
		Secrets:          secrets(in.Secrets),
		SSH:              ssh(in.SSH),
		Pull:             in.Pull,
		NoCache:          in.NoCache,
		Labels:           in.Labels,
		Annotations:      in.Annotations,
		Repository:       in.Repository,
		Tags:             in.Tags,
		Release:          in.Release,
		Push:             in.Push,
		CreateRepository: in.CreateRepository,
		MaxImageSize:     in.MaxImageSize,
		MaxImageGrowth:   in.MaxImageGrowth,
		Cache:            in.Cache,
		CacheKeyFiles:    in.CacheKeyFiles,
		CacheSalt:        in.CacheSalt,
		CacheRetention:   in.CacheRetention,
		CacheWrite:       in.CacheWrite,
		Commit:           commitOf(ci),
		Notices:          in.Notices,
	}
}

// commitOf is what the CI knows of the commit built and its repository.
func commitOf(ci action.CI) pipeline.Commit {
	return pipeline.Commit{
		SHA: ci.SHA, Branch: ci.Branch, DefaultBranch: ci.DefaultBranch, BaseBranch: ci.BaseBranch, SourceURL: ci.SourceURL,
		Repository: pipeline.Repository{Title: ci.Repo.Title, Description: ci.Repo.Description, URL: ci.Repo.URL, Licenses: ci.Repo.Licenses},
		Version:    ci.Version(),
	}
}

// outputs are the step's outputs from the run's result.
func outputs(r pipeline.Result) action.Outputs {
	o := action.Outputs{
		ImageURI:              r.ImageURI,
		Digest:                r.Digest,
		ImageID:               r.ImageID,
		Tags:                  r.Tags,
		ImageSizeBytes:        r.ImageSizeBytes,
		UncompressedSizeBytes: r.UncompressedSizeBytes,
		BuildStageSizeBytes:   r.BuildStageSizeBytes,
		CacheKey:              r.CacheKey,
		CacheHit:              r.CacheHit,
		Skipped:               r.Skipped,
		Registry:              r.Registry,
		BuiltFrom:             r.BuiltFrom,
	}
	if r.Digest != "" {
		o.ImageSize = action.FormatSize(r.ImageSizeBytes)
	}
	if c := r.SizeChange; c != nil {
		o.ImageSizeDeltaBytes = &c.DeltaBytes
	}
	for _, p := range r.Platforms {
		o.Platforms = append(o.Platforms, action.Platform{Platform: p.Platform, Digest: p.Digest, SizeBytes: p.Size})
	}
	return o
}

func secrets(ss []action.Secret) []build.Secret {
	var out []build.Secret
	for _, s := range ss {
		out = append(out, build.Secret{ID: s.ID, Value: s.Value, File: s.File})
	}
	return out
}

func ssh(ss []action.SSH) []build.SSH {
	var out []build.SSH
	for _, s := range ss {
		out = append(out, build.SSH{ID: s.ID, Paths: s.Paths})
	}
	return out
}

func timings(ts []pipeline.Timing) []action.Timing {
	out := make([]action.Timing, len(ts))
	for i, t := range ts {
		out[i] = action.Timing{Name: t.Name, Duration: t.Duration}
	}
	return out
}

// logTo is the run's log, written through the front end's reporter.
type logTo struct{ rep action.Reporter }

func (l logTo) Mask(secret string)               { l.rep.Mask(secret) }
func (l logTo) Infof(format string, args ...any) { l.rep.Infof(format, args...) }
func (l logTo) Status(line string) bool          { return l.rep.Status(line) }
func (l logTo) Section(title string, body []byte) {
	l.rep.Section(title, body)
}
func (l logTo) Note(n pipeline.Note) {
	level := map[pipeline.Level]action.Level{pipeline.Notice: action.Notice, pipeline.Warning: action.Warning, pipeline.Error: action.Error}[n.Level]
	l.rep.Annotate(action.Annotation{Level: level, Title: n.Title, File: n.File, Line: n.Line, Message: n.Message})
}

// ecrRetryer is the AWS SDK's standard retryer under the run's policy
// (internal/retry): throttling and server errors are retried by the SDK
// alone, retry.ECRAttempts times with jittered pauses of at most
// retry.ECRMaxBackoff, so that an ECR call that keeps failing gives up well
// within the run's budget for faults; the run never retries it again.
func ecrRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = msbretry.ECRAttempts
		o.MaxBackoff = msbretry.ECRMaxBackoff
	})
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `ms-build builds a multi-stage Dockerfile with BuildKit and pushes the runtime image to Amazon ECR.

Usage:
  ms-build [flags]          build and push (inputs also come from INPUT_<NAME> variables)
  ms-build --dry-run        build and push to an embedded registry: no AWS account needed
  ms-build merge --images=sha256:...,sha256:...
                            publish the images each platform's run pushed as one index, under --tags
  ms-build version          print the version
  ms-build help             print this help (also --help, -h)

Flags (the same names as the GitHub Action's and the GitLab component's inputs;
a value follows '=', as in --push=false):
`)
	action.PrintFlags(w)
	fmt.Fprintf(w, `
Exit codes: 0 done, 1 failed, 2 usage.
`)
}

// gitCheckout asks git about the checkout that holds dir (the build
// context) on a laptop: the commit, the branch, the tags at the commit. No
// git, or no checkout, no answer.
func gitCheckout(dir string) action.Checkout {
	if dir == "" {
		dir = "."
	}
	git := func(args ...string) (string, error) {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
		return strings.TrimSpace(string(out)), err
	}
	var c action.Checkout
	var err error
	if c.SHA, err = git("rev-parse", "HEAD"); err != nil {
		return action.Checkout{}
	}
	c.Branch, _ = git("symbolic-ref", "--short", "-q", "HEAD")
	if out, err := git("tag", "--points-at", "HEAD"); err == nil {
		c.Tags = strings.Fields(out)
	}
	return c
}

// versionText says what runs: a release's version and commit, else the
// version and revision the build recorded.
func versionText() string {
	if commit != "" {
		return version + " commit " + commit
	}
	return versionString(version, debug.ReadBuildInfo)
}

// gitOrigin asks git for the origin remote's URL on a laptop; no git or no
// origin, no answer. The front end keeps only its host and path.
func gitOrigin(dir string) string {
	cmd := exec.Command("git", "config", "--get", "remote.origin.url")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
