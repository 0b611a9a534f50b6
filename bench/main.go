// Command bench measures ms-build against the recipe users write today
// (docker build with BuildKit, --cache-from the previous image with inline
// cache, then docker push), in one run, on two fixtures: a big one whose
// restore step is real work (this repository, vendored, built in an SDK stage
// that compiles every vendored package before copying the sources) and a
// small one whose whole build takes well under 2 s (a shell service on
// busybox), where the figures show ms-build's own overhead.
//
// A third tool is ms-build with a standalone BuildKit as its builder
// (--builder): a buildkitd the bench starts on a loopback port with mutual
// TLS, its own root, and the engine's base images copied into its mirror
// registry. For it a fresh runner is a new daemon root, and a warm engine the
// same daemon (-buildkit=false leaves it out).
//
// The tools push to the project's ECR-compatible endpoint and a real
// registry on loopback; each scenario rotates which tool goes first, runs
// at least three rounds and reports medians, the ms-build/recipe ratio
// against its target, and BuildKit's ratios to the recipe and to ms-build
// on the engine. During ms-build's skips (nothing changed) it counts the ECR
// API calls by their X-Amz-Target.
// It then measures ms-build's own cost on a 500 MB context: the skip key's
// throughput against one core's SHA-256 speed (openssl speed -evp sha256,
// in the same run) and the peak memory of a whole ms-build run.
//
// Run it with an engine and, for BuildKit, buildkitd and runc, as root:
// eval "$(scripts/buildkit)" && scripts/engine exec go run ./bench
package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecr "github.com/aws/aws-sdk-go-v2/service/ecr"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/org/ms-build-action/internal/buildcontext"
	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/testenv/buildkitd"
	"github.com/org/ms-build-action/internal/testenv/ecrlocal"
)

//go:embed fixture.Dockerfile
var fixtureDockerfile []byte

// smallFixture is the small fixture's files, under small/.
//
//go:embed small
var smallFixture embed.FS

var (
	rounds    = flag.Int("rounds", 3, "rounds per scenario (at least 3)")
	contextMB = flag.Int("context-mb", 500, "size of the context for ms-build's own cost")
	fixtures  = flag.String("fixture", "both", "the fixtures to run the scenarios on: big, small or both")
	only      stringList
	dockerCLI = flag.String("docker", "", "the docker CLI for the recipe (default: one whose build uses BuildKit without buildx)")
	verbose   = flag.Bool("v", false, "print ms-build's own timings after each of its runs")
	withBK    = flag.Bool("buildkit", true, "also measure ms-build on a standalone buildkitd the bench starts (needs root, runc and buildkitd: eval \"$(scripts/buildkit)\")")
)

// stringList is a flag that may be given more than once.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, "; ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	flag.Var(&only, "only", `run only the scenarios whose name ("big: warm engine, source-only change") or BuildKit counterpart's ("big: warm builder, source-only change") contains this; may be repeated`)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench holds what every measurement shares.
type bench struct {
	docker  *client.Client
	cli     string // docker CLI for the recipe
	binary  string // ms-build
	local   *ecrlocal.Local
	sdk     *awsecr.Client
	tmp     string
	baseEnv []string
	calls   *ecrCalls         // ECR API calls, counted while recording
	bk      *buildkitd.Daemon // the BuildKit tool's builder, when it runs
}

func run(ctx context.Context) error {
	if *rounds < 3 {
		return errors.New("-rounds must be at least 3")
	}
	fxs, err := pickFixtures(*fixtures)
	if err != nil {
		return err
	}
	b := &bench{calls: &ecrCalls{}}
	if err := b.useEngine(ctx); err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "msb-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)

	fmt.Println("Building ms-build ...")
	b.binary = filepath.Join(b.tmp, "ms-build")
	if out, err := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", b.binary, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("building ms-build: %v\n%s", err, out)
	}
	if b.local, err = ecrlocal.Start(ctx, ecrlocal.Config{}, ecrlocal.WrapEndpoint(b.calls.wrap)); err != nil {
		return err
	}
	defer b.local.Close()
	b.sdk = awsecr.NewFromConfig(aws.Config{
		Region:      b.local.Region,
		Credentials: credentials.NewStaticCredentialsProvider(b.local.AccessKeyID, b.local.SecretAccessKey, ""),
	}, func(o *awsecr.Options) { o.BaseEndpoint = aws.String(b.local.Endpoint) })
	b.baseEnv = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + b.tmp, "DOCKER_HOST=" + os.Getenv("DOCKER_HOST"),
		"AWS_ENDPOINT_URL_ECR=" + b.local.Endpoint, "AWS_REGION=" + b.local.Region,
		"AWS_ACCESS_KEY_ID=" + b.local.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + b.local.SecretAccessKey,
		"DOCKER_CONFIG=" + filepath.Join(b.tmp, "docker-config"), "DOCKER_BUILDKIT=1",
	}
	if err := b.dockerLogin(ctx); err != nil {
		return err
	}
	if *withBK {
		fmt.Println("Starting buildkitd, copying the base images to its mirror ...")
		stop, err := b.startBuildKit(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}

	fmt.Printf("Machine: %d cores; engine %s; recipe CLI %s\n", runtime.NumCPU(), engineVersion(ctx, b.docker), b.cli)
	if b.bk != nil {
		fmt.Printf("BuildKit: buildkitd %s at %s (mTLS on loopback)\n", buildkitd.ModuleVersion(), b.bk.Addr)
	}
	if err := b.compare(ctx, fxs); err != nil {
		return err
	}
	return b.ownCost(ctx)
}

// useEngine connects to the engine, which must have the base images, and
// finds the recipe's docker CLI.
func (b *bench) useEngine(ctx context.Context) error {
	var err error
	if b.docker, err = client.New(client.FromEnv); err != nil {
		return err
	}
	if _, err := b.docker.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("no Docker engine answers (%v): run it as scripts/engine exec go run ./bench", err)
	}
	for _, img := range baseImages {
		if _, err := b.docker.ImageInspect(ctx, img); err != nil {
			return fmt.Errorf("base image %s is missing: run it as scripts/engine exec go run ./bench", img)
		}
	}
	b.cli, err = recipeCLI(ctx)
	return err
}

// pickFixtures reads -fixture.
func pickFixtures(v string) ([]fixture, error) {
	switch v {
	case "big":
		return []fixture{bigFixture}, nil
	case "small":
		return []fixture{smallFixtureDef}, nil
	case "both":
		return []fixture{bigFixture, smallFixtureDef}, nil
	}
	return nil, fmt.Errorf("-fixture is %q: use big, small or both", v)
}

// recipeCLI finds a docker CLI that builds with BuildKit: buildx, or a CLI
// with BuildKit built in (Debian's docker.io 20.10).
func recipeCLI(ctx context.Context) (string, error) {
	if *dockerCLI != "" {
		return *dockerCLI, nil
	}
	for _, c := range []string{"/usr/bin/docker", "docker"} {
		if exec.CommandContext(ctx, c, "buildx", "version").Run() == nil {
			return c, nil
		}
		out, err := exec.CommandContext(ctx, c, "version", "--format", "{{.Client.Version}}").Output()
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(out)), "20.") {
			return c, nil
		}
	}
	return "", errors.New("no docker CLI that builds with BuildKit: install buildx, or Debian's docker.io, or name one with -docker")
}

func (b *bench) dockerLogin(ctx context.Context) error {
	out, err := b.sdk.GetAuthorizationToken(ctx, &awsecr.GetAuthorizationTokenInput{})
	if err != nil {
		return err
	}
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	_, password, _ := strings.Cut(string(raw), ":")
	cmd := exec.CommandContext(ctx, b.cli, "login", "-u", "AWS", "--password-stdin", b.local.Registry)
	cmd.Env = b.baseEnv
	cmd.Stdin = strings.NewReader(password)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker login for the recipe: %v\n%s", err, out)
	}
	return nil
}

// fixture is a service the scenarios build.
type fixture struct {
	name string
	// populate writes the fixture's files, its Dockerfile included, into dir.
	populate func(ctx context.Context, dir string) error
	// editFile is the source file a source-only edit rewrites, and editSource
	// its content for an edit's stamp.
	editFile   string
	editSource func(stamp string) string
}

// bigFixture is this repository as a service, vendored: a cold build takes
// about a minute, most of it in the restore step.
var bigFixture = fixture{
	name:     "big",
	populate: populateBig,
	editFile: "bench_edit.go",
	editSource: func(stamp string) string {
		return fmt.Sprintf("package main\n\n// benchEdit changes with every source-only edit the benchmark makes.\nconst benchEdit = %q\n", stamp)
	},
}

// smallFixtureDef is a shell service on busybox: its whole build takes well
// under 2 s.
var smallFixtureDef = fixture{
	name: "small",
	populate: func(_ context.Context, dir string) error {
		sub, err := fs.Sub(smallFixture, "small")
		if err != nil {
			return err
		}
		return os.CopyFS(dir, sub)
	},
	editFile: "src/bench_edit.sh",
	editSource: func(stamp string) string {
		return fmt.Sprintf("# BENCH_EDIT changes with every source-only edit the benchmark makes.\nBENCH_EDIT=%q\n", stamp)
	},
}

// workspace is one tool's copy of a fixture.
type workspace struct {
	fx    fixture
	dir   string
	edits int
}

// newWorkspace writes the fixture for one tool and makes its first edit.
func (b *bench) newWorkspace(ctx context.Context, fx fixture, name string) (*workspace, error) {
	dir := filepath.Join(b.tmp, "ws-"+fx.name+"-"+name)
	if err := fx.populate(ctx, dir); err != nil {
		return nil, fmt.Errorf("writing the %s fixture: %w", fx.name, err)
	}
	w := &workspace{fx: fx, dir: dir}
	return w, w.edit(name)
}

// populateBig copies the repository's tracked files and vendors its
// dependencies: the fixture is this service, built by its SDK stage.
func populateBig(ctx context.Context, dir string) error {
	files, err := exec.CommandContext(ctx, "git", "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("listing the repository's files: %w", err)
	}
	for _, f := range strings.Fields(string(files)) {
		if strings.HasPrefix(f, ".") || strings.HasPrefix(f, "testdata/") || strings.HasPrefix(f, "examples/") || strings.HasPrefix(f, "bench/") || strings.HasPrefix(f, "e2e/") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			return err
		}
	}
	vendor := exec.CommandContext(ctx, "go", "mod", "vendor")
	vendor.Dir = dir
	if out, err := vendor.CombinedOutput(); err != nil {
		return fmt.Errorf("vendoring the fixture: %v\n%s", err, out)
	}
	return os.WriteFile(filepath.Join(dir, "Dockerfile"), fixtureDockerfile, 0o644)
}

// edit changes a source file only (not a dependency file), as a commit does.
func (w *workspace) edit(tool string) error {
	w.edits++
	src := w.fx.editSource(fmt.Sprintf("%s-%d", tool, w.edits))
	return os.WriteFile(filepath.Join(w.dir, w.fx.editFile), []byte(src), 0o644)
}

// tool is one way of building and pushing.
type tool interface {
	name() string
	// build builds and pushes the workspace under tag, to repository repo.
	build(ctx context.Context, w *workspace, repo, tag string) error
	// fresh makes the tool's builder a new runner's: nothing cached.
	fresh(ctx context.Context) error
}

// The tools' names.
const (
	toolRecipe   = "recipe"
	toolEngine   = "ms-build"
	toolBuildKit = "BuildKit"
)

type recipe struct{ b *bench }

func (recipe) name() string { return toolRecipe }

func (r recipe) fresh(ctx context.Context) error { return freshRunner(ctx, r.b.docker) }

// build is what users script today: build with BuildKit, the previous image
// as cache (inline cache), then push the tags.
func (r recipe) build(ctx context.Context, w *workspace, repo, tag string) error {
	ref := r.b.local.Registry + "/" + repo
	steps := [][]string{
		{"build", "--network", "none", "--cache-from", ref + ":latest", "--build-arg", "BUILDKIT_INLINE_CACHE=1", "-t", ref + ":" + tag, "-t", ref + ":latest", w.dir},
		{"push", ref + ":" + tag},
		{"push", ref + ":latest"},
	}
	for _, s := range steps {
		cmd := exec.CommandContext(ctx, r.b.cli, s...)
		cmd.Env = r.b.baseEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("docker %s: %v\n%s", s[0], err, tail(out))
		}
	}
	return nil
}

// msbuild is ms-build on the engine or, with buildkit, on the bench's
// buildkitd.
type msbuild struct {
	b        *bench
	buildkit bool
}

func (m msbuild) name() string {
	if m.buildkit {
		return toolBuildKit
	}
	return toolEngine
}

// fresh empties the engine, or starts the daemon again on an empty root.
func (m msbuild) fresh(ctx context.Context) error {
	if !m.buildkit {
		return freshRunner(ctx, m.b.docker)
	}
	if m.b.bk == nil {
		return errNoBuildKit
	}
	return m.b.bk.Restart(ctx)
}

// build runs ms-build as a GitHub Actions step on the main branch.
func (m msbuild) build(ctx context.Context, w *workspace, repo, tag string) error {
	cmd := exec.CommandContext(ctx, m.b.binary)
	cmd.Dir = w.dir
	meta := filepath.Join(m.b.tmp, "gh")
	os.MkdirAll(meta, 0o755)
	// The event names the default branch, as GitHub's does: a run on it is
	// trusted to write the caches the next runs read.
	event := filepath.Join(meta, "event.json")
	if err := os.WriteFile(event, []byte(`{"repository":{"default_branch":"main"}}`), 0o644); err != nil {
		return err
	}
	cmd.Env = append(slices.Clone(m.b.baseEnv),
		"GITHUB_ACTIONS=true", "GITHUB_REF=refs/heads/main", "GITHUB_REF_TYPE=branch", "GITHUB_EVENT_PATH="+event,
		"GITHUB_SHA=0123456789abcdef0123456789abcdef01234567", "GITHUB_WORKSPACE="+w.dir,
		"GITHUB_OUTPUT="+filepath.Join(meta, "output"), "GITHUB_STEP_SUMMARY="+filepath.Join(meta, "summary"),
		"INPUT_REPOSITORY="+repo, "INPUT_TAGS="+tag, "INPUT_NETWORK=none",
	)
	if m.buildkit {
		cmd.Env = append(cmd.Env, m.b.builderEnv()...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ms-build: %v\n%s", err, tail(out))
	}
	if *verbose {
		summary, _ := os.ReadFile(filepath.Join(meta, "summary"))
		if i := bytes.Index(summary, []byte("**Timings**")); i >= 0 {
			fmt.Printf("%s", summary[i:])
		}
		os.Remove(filepath.Join(meta, "summary"))
	}
	return nil
}

// scenario is one situation a CI job meets.
type scenario struct {
	name string
	// bkName is the situation as the BuildKit builder meets it: a fresh
	// runner's builder is a daemon on a new root, a warm one the same daemon.
	bkName string
	target float64 // the largest acceptable ms-build/recipe ratio (ms-build on the engine)
	// prepare puts the runner and the registry in the scenario's state (not
	// timed); the timed run follows.
	prepare func(ctx context.Context, t tool, w *workspace, repo string) error
	fresh   bool // the timed run starts on a fresh runner
	edit    bool // the timed run follows a source-only edit
	newRepo bool // the timed run pushes to an empty repository
	// countCalls counts the ECR API calls of ms-build's timed runs.
	countCalls bool
}

func seed(ctx context.Context, t tool, w *workspace, repo string) error {
	return t.build(ctx, w, repo, "seed")
}

// scenarios are the situations measured on each fixture; their targets are
// for ms-build on the engine (BuildKit's rows have none: its counterpart
// is the engine, and the figures say how it compares).
var scenarios = []scenario{
	{name: "cold (fresh runner, empty repository)", bkName: "cold (empty builder, empty repository)", target: 1.2, fresh: true, newRepo: true},
	{name: "fresh runner, nothing changed", bkName: "fresh builder, nothing changed", target: 0.3, prepare: seed, fresh: true, countCalls: true},
	{name: "fresh runner, source-only change", bkName: "fresh builder, source-only change", target: 0.5, prepare: seed, fresh: true, edit: true},
	{name: "warm engine, source-only change", bkName: "warm builder, source-only change", target: 1.1, prepare: seed, edit: true},
}

// row is one scenario's figures on one fixture.
type row struct {
	name, bkName string
	target       float64
	times        map[string][]time.Duration // each round's, by tool
}

// median is a tool's median in the row, 0 when it did not run.
func (r row) median(tool string) time.Duration {
	if len(r.times[tool]) == 0 {
		return 0
	}
	return median(r.times[tool])
}

// ratio is tool a's median over tool b's.
func (r row) ratio(a, b string) float64 { return r.median(a).Seconds() / r.median(b).Seconds() }

// maxSkipCalls is the most ECR API calls a skip may make.
const maxSkipCalls = 3

func (b *bench) compare(ctx context.Context, fxs []fixture) error {
	tools := []tool{recipe{b}, msbuild{b: b}}
	if b.bk != nil {
		tools = append(tools, msbuild{b: b, buildkit: true})
	}
	selected := func(fx fixture, sc scenario) bool {
		return matches(only, fx.name+": "+sc.name, fx.name+": "+sc.bkName)
	}
	var rows []row
	var skips []string // the ECR calls of ms-build's skips, a line per fixture and builder
	for _, fx := range fxs {
		if !slices.ContainsFunc(scenarios, func(sc scenario) bool { return selected(fx, sc) }) {
			continue
		}
		ws := map[string]*workspace{}
		for _, t := range tools {
			w, err := b.newWorkspace(ctx, fx, t.name())
			if err != nil {
				return err
			}
			ws[t.name()] = w
		}
		for si, sc := range scenarios {
			if !selected(fx, sc) {
				continue
			}
			r, lines, err := b.runScenario(ctx, fx, si, sc, tools, ws)
			if err != nil {
				return err
			}
			rows = append(rows, r)
			skips = append(skips, lines...)
		}
	}
	fmt.Println()
	fmt.Println(tableHeader(b.bk != nil))
	for _, r := range rows {
		fmt.Println(tableRow(r, b.bk != nil))
	}
	if b.bk != nil {
		fmt.Println("BuildKit: ms-build --builder on the bench's buildkitd; its fresh runner is the daemon on a new root, its warm engine the same daemon.")
	}
	if len(skips) > 0 {
		fmt.Println()
		for _, l := range skips {
			fmt.Println(l)
		}
	}
	return nil
}

// matches tells whether one of names contains one of the -only strings
// (all do when there are none).
func matches(only []string, names ...string) bool {
	return len(only) == 0 || slices.ContainsFunc(only, func(o string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, o) })
	})
}

// rotate is the order of the tools in a round: each goes first in turn.
func rotate(tools []tool, round int) []tool {
	k := (round - 1) % len(tools)
	return append(slices.Clone(tools[k:]), tools[:k]...)
}

// runScenario runs a scenario's rounds on a fixture with every tool, and
// returns its row and, when it counts them, a line of the ECR calls of
// each ms-build's skips.
func (b *bench) runScenario(ctx context.Context, fx fixture, si int, sc scenario, tools []tool, ws map[string]*workspace) (row, []string, error) {
	r := row{name: fx.name + ": " + sc.name, bkName: fx.name + ": " + sc.bkName, target: sc.target, times: map[string][]time.Duration{}}
	calls := map[string][]map[string]int{} // each ms-build's ECR calls in each round
	for round := 1; round <= *rounds; round++ {
		for _, t := range rotate(tools, round) {
			d, c, err := b.timedRun(ctx, fx, si, sc, t, ws[t.name()], round)
			if err != nil {
				return r, nil, err
			}
			r.times[t.name()] = append(r.times[t.name()], d)
			if c != nil {
				calls[t.name()] = append(calls[t.name()], c)
			}
			name := r.name
			if t.name() == toolBuildKit {
				name = r.bkName
			}
			fmt.Printf("  %-46s round %d %-9s %6.1fs\n", name, round, t.name(), d.Seconds())
		}
	}
	var lines []string
	for _, t := range tools {
		if c := calls[t.name()]; len(c) > 0 {
			label := fx.name
			if t.name() == toolBuildKit {
				label += ", BuildKit"
			}
			// Printed now as well, so a run that fails later keeps it.
			lines = append(lines, skipCallsLine(label, c))
			fmt.Println("  " + lines[len(lines)-1])
		}
	}
	return r, lines, nil
}

// timedRun puts tool t in the scenario's state for a round, untimed, then
// times its build; for ms-build's runs in a scenario that counts them, it
// also returns the ECR API calls the build made.
func (b *bench) timedRun(ctx context.Context, fx fixture, si int, sc scenario, t tool, w *workspace, round int) (time.Duration, map[string]int, error) {
	name := fx.name + ": " + sc.name
	repo := fmt.Sprintf("bench/%s-%s-s%d", fx.name, strings.ToLower(strings.ReplaceAll(t.name(), "-", "")), si)
	if sc.newRepo {
		repo = fmt.Sprintf("%s-r%d", repo, round)
	}
	if err := b.ensureRepo(ctx, repo); err != nil {
		return 0, nil, err
	}
	if err := w.edit(t.name()); err != nil {
		return 0, nil, err
	}
	if sc.prepare != nil {
		if err := sc.prepare(ctx, t, w, repo); err != nil {
			return 0, nil, fmt.Errorf("%s, preparing %s: %w", name, t.name(), err)
		}
	}
	if sc.fresh {
		if err := t.fresh(ctx); err != nil {
			return 0, nil, err
		}
	}
	if sc.edit {
		if err := w.edit(t.name()); err != nil {
			return 0, nil, err
		}
	}
	record := sc.countCalls && t.name() != toolRecipe
	if record {
		b.calls.start()
	}
	start := time.Now()
	err := t.build(ctx, w, repo, fmt.Sprintf("r%d", round))
	d := time.Since(start)
	var calls map[string]int
	if record {
		calls = b.calls.stop()
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%s, %s: %w", name, t.name(), err)
	}
	return d, calls, nil
}

// tableHeader and tableRow are the summary table's lines: the medians,
// ms-build's ratio to the recipe against its target and, with withBK,
// BuildKit's median and its ratios to the recipe and to ms-build on the
// engine.
func tableHeader(withBK bool) string {
	h := fmt.Sprintf("%-46s %10s %10s %7s %7s %-6s", "scenario (median of "+strconv.Itoa(*rounds)+" rounds)", "recipe", "ms-build", "ratio", "target", "")
	if withBK {
		h += fmt.Sprintf(" %10s %9s %9s", "BuildKit", "BK/recipe", "BK/engine")
	}
	return strings.TrimRight(h, " ")
}

func tableRow(r row, withBK bool) string {
	ratio := r.ratio(toolEngine, toolRecipe)
	verdict := "met"
	if ratio > r.target {
		verdict = "MISSED"
	}
	l := fmt.Sprintf("%-46s %9.1fs %9.1fs %7.2f %7s %-6s", r.name, r.median(toolRecipe).Seconds(), r.median(toolEngine).Seconds(), ratio, fmt.Sprintf("<=%.1f", r.target), verdict)
	if withBK {
		l += fmt.Sprintf(" %9.1fs %9.2f %9.2f", r.median(toolBuildKit).Seconds(), r.ratio(toolBuildKit, toolRecipe), r.ratio(toolBuildKit, toolEngine))
	}
	return strings.TrimRight(l, " ")
}

// skipCallsLine reports the ECR API calls of ms-build's skips on a fixture
// (and builder):
// one figure when every round made the same calls, else each round's.
func skipCallsLine(fixture string, rounds []map[string]int) string {
	most := 0
	var each []string
	for _, c := range rounds {
		n := 0
		for _, v := range c {
			n += v
		}
		most = max(most, n)
		each = append(each, formatCalls(c))
	}
	verdict := "met"
	if most > maxSkipCalls {
		verdict = "MISSED"
	}
	figure := each[0]
	if len(slices.Compact(slices.Clone(each))) > 1 {
		for i := range each {
			each[i] = fmt.Sprintf("round %d: %s", i+1, each[i])
		}
		figure = strings.Join(each, "; ")
	}
	return fmt.Sprintf("ECR calls of a skip (%s): %s (target <= %d) %s", fixture, figure, maxSkipCalls, verdict)
}

// formatCalls reads "2 (BatchGetImage 1, PutImage 1)".
func formatCalls(c map[string]int) string {
	n := 0
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(c)) {
		n += c[op]
		parts = append(parts, fmt.Sprintf("%s %d", op, c[op]))
	}
	return fmt.Sprintf("%d (%s)", n, strings.Join(parts, ", "))
}

// ecrCalls counts the ECR API calls, by the operation their X-Amz-Target
// names, while it records.
type ecrCalls struct {
	mu        sync.Mutex
	recording bool
	counts    map[string]int
}

// wrap counts the calls that reach the endpoint, for ecrlocal.WrapEndpoint.
func (c *ecrCalls) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		if c.recording {
			op := r.Header.Get("X-Amz-Target") // AmazonEC2ContainerRegistry_V20150921.BatchGetImage
			if i := strings.LastIndexByte(op, '.'); i >= 0 {
				op = op[i+1:]
			}
			if op == "" {
				op = r.Method + " " + r.URL.Path
			}
			c.counts[op]++
		}
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (c *ecrCalls) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recording, c.counts = true, map[string]int{}
}

func (c *ecrCalls) stop() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recording = false
	return c.counts
}

func (b *bench) ensureRepo(ctx context.Context, repo string) error {
	_, err := b.sdk.CreateRepository(ctx, &awsecr.CreateRepositoryInput{RepositoryName: aws.String(repo)})
	if err != nil && !strings.Contains(err.Error(), "RepositoryAlreadyExists") {
		return err
	}
	return nil
}

// freshRunner removes every image but the base images and prunes the build
// cache: the engine of a new CI runner.
func freshRunner(ctx context.Context, c *client.Client) error {
	imgs, err := c.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil {
		return err
	}
	for _, img := range imgs.Items {
		base := slices.ContainsFunc(img.RepoTags, func(t string) bool { return strings.HasPrefix(t, "msb-example/") || strings.HasPrefix(t, "msb-test/") })
		if base {
			continue
		}
		if _, err := c.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return err
		}
	}
	_, err = c.BuildCachePrune(ctx, client.BuildCachePruneOptions{All: true})
	return err
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// ownCost measures ms-build on a large context: the skip key's throughput,
// against one core's SHA-256 speed measured now, and a whole run's peak
// memory.
func (b *bench) ownCost(ctx context.Context) error {
	dir := filepath.Join(b.tmp, "big")
	total, files, err := bigContext(dir, int64(*contextMB)<<20)
	if err != nil {
		return err
	}
	fmt.Printf("\nms-build's own cost on a %d MB context (%d files)\n", total>>20, files)

	sha, err := opensslSHA256(ctx)
	if err != nil {
		return err
	}
	bctx, err := buildcontext.Open(dir, "")
	if err != nil {
		return err
	}
	defer bctx.Close()
	var speeds []float64
	for i := 0; i < 4; i++ { // the first pass fills the page cache
		start := time.Now()
		if _, err := cache.SkipKey(ctx, cache.SkipInput{FS: bctx.FS(), Dockerfile: bctx.Dockerfile()}); err != nil {
			return err
		}
		if i > 0 {
			speeds = append(speeds, float64(total)/1e6/time.Since(start).Seconds())
		}
	}
	slices.Sort(speeds)
	skip := speeds[len(speeds)/2]
	fmt.Printf("  skip key:            %7.0f MB/s (median of 3)\n", skip)
	fmt.Printf("  openssl sha256:      %7.0f MB/s (one core)\n", sha)
	verdict := "met"
	if skip < sha/2 {
		verdict = "MISSED"
	}
	fmt.Printf("  ratio:               %7.2f of one core (target >= 0.50) %s\n", skip/sha, verdict)

	// A whole run on that context: the tar streamed to the engine, the skip
	// key, the push. The Dockerfile copies one file, so the engine's work
	// stays small and the figure is ms-build's.
	if err := b.ensureRepo(ctx, "bench/big"); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, b.binary, "--repository", "bench/big", "--network", "none", "--tags", "big", "--context", dir)
	cmd.Env = b.baseEnv
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	hwm := watchPeak(cmd.Process.Pid)
	err = cmd.Wait()
	kb := hwm()
	if err != nil {
		return fmt.Errorf("ms-build on the big context: %v\n%s", err, tail(out.Bytes()))
	}
	peak := float64(kb) / 1024
	verdict = "met"
	if peak > 100 {
		verdict = "MISSED"
	}
	fmt.Printf("  peak memory, whole run: %4.0f MB (target <= 100) %s\n", peak, verdict)
	return nil
}

// watchPeak reads a process's peak resident memory (VmHWM) every few
// milliseconds until the returned function is called, after the process
// ended, and returns the last figure read, in kB. Its rusage's ru_maxrss
// will not do: a child that Go starts shares the bench's memory until it
// execs, and the kernel keeps that high-water mark (the bench's mirror and
// buffers, 250 MB and more) as the child's.
func watchPeak(pid int) func() int64 {
	var (
		mu   sync.Mutex
		peak int64
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := fmt.Sprintf("/proc/%d/status", pid)
		for {
			if b, err := os.ReadFile(path); err == nil {
				if m := vmHWM.FindSubmatch(b); m != nil {
					n, _ := strconv.ParseInt(string(m[1]), 10, 64)
					mu.Lock()
					peak = max(peak, n)
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

var vmHWM = regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB`)

// bigContext writes a context of about size bytes: big assets, mid-size
// files and many small sources, as a large repository has.
func bigContext(dir string, size int64) (int64, int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	df := "FROM msb-example/runtime:1 AS build\nCOPY Dockerfile /Dockerfile\nFROM msb-example/runtime:1\nCOPY --from=build /Dockerfile /Dockerfile\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		return 0, 0, err
	}
	src := rand.NewChaCha8([32]byte{7})
	rng := rand.New(src)
	buf := make([]byte, 1<<20)
	var total int64
	files := 0
	// A half in 8-32 MB files, a third in 64 KB-1 MB files, the rest in 1-16 KB files.
	parts := []struct {
		share    float64
		min, max int64
	}{{0.5, 8 << 20, 32 << 20}, {0.33, 64 << 10, 1 << 20}, {0.17, 1 << 10, 16 << 10}}
	for pi, p := range parts {
		budget := int64(p.share * float64(size))
		for written := int64(0); written < budget; files++ {
			n := p.min + rng.Int64N(p.max-p.min)
			path := filepath.Join(dir, fmt.Sprintf("part%d", pi), fmt.Sprintf("d%03d", files%100), fmt.Sprintf("f%06d", files))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return 0, 0, err
			}
			f, err := os.Create(path)
			if err != nil {
				return 0, 0, err
			}
			for left := n; left > 0; {
				chunk := buf[:min(left, int64(len(buf)))]
				src.Read(chunk)
				if _, err := f.Write(chunk); err != nil {
					f.Close()
					return 0, 0, err
				}
				left -= int64(len(chunk))
			}
			if err := f.Close(); err != nil {
				return 0, 0, err
			}
			written += n
			total += n
		}
	}
	return total, files, nil
}

var opensslLine = regexp.MustCompile(`(?m)^sha256\s.*\s([0-9.]+)k\s*$`)

// opensslSHA256 is one core's SHA-256 speed in MB/s, as openssl measures it
// on 16 KB blocks.
func opensslSHA256(ctx context.Context) (float64, error) {
	out, err := exec.CommandContext(ctx, "openssl", "speed", "-evp", "sha256", "-bytes", "16384", "-seconds", "3").Output()
	if err != nil {
		return 0, fmt.Errorf("running openssl speed: %w", err)
	}
	m := opensslLine.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("reading openssl speed's output: %s", out)
	}
	k, _ := strconv.ParseFloat(string(m[1]), 64)
	return k * 1000 / 1e6, nil
}

func engineVersion(ctx context.Context, c *client.Client) string {
	v, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "?"
	}
	return v.Version + " (API " + v.APIVersion + ")"
}

func tail(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
