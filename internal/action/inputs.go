package action

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	units "github.com/docker/go-units"

	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/pipeline"
	"github.com/org/ms-build-action/internal/tags"
)

// Spec describes one input. Its name is the same in action.yml, the GitLab
// component and the CLI flags.
type Spec struct {
	Name    string
	Default string // as documented; "" when the default is computed or none
	Usage   string
}

// Specs lists every input, in the order help and documentation show them.
var Specs = []Spec{
	{"repository", "", "ECR repository name, e.g. team/app (required unless dry-run or push: false)"},
	{"aws-region", "", "AWS region of the registry (default: AWS_REGION, else AWS_DEFAULT_REGION)"},
	{"registry-id", "", "AWS account id that owns the registry (default: the caller's account)"},
	{"context", ".", "build context directory; its .dockerignore is honoured"},
	{"file", "", "Dockerfile path (default: <context>/Dockerfile)"},
	{"build-stage", "", "the SDK/build stage whose layers are cached (default: the stage the target copies from)"},
	{"target", "", "the runtime stage that is tagged and pushed (default: the last stage)"},
	{"build-args", "", "build arguments, one KEY=VALUE a line (KEY alone takes the value from the environment)"},
	{"tags", "", "tags to push, one a line or comma separated, or docker/metadata-action rule lines (type=sha, type=ref,event=branch|tag|pr, type=semver,pattern=..., type=raw,value=...) (default: the commit's short sha; on a tag, also its name; latest on the default branch and on the highest release)"},
	{"push", "true", "false: build and report, push nothing"},
	{"dry-run", "false", "build and push to an embedded local registry; no AWS account needed"},
	{"cache", "true", "use and fill the dependency-keyed build cache"},
	{"cache-key-files", "", "globs of the dependency files that make the cache key, one a line or comma separated (default: detected by ecosystem)"},
	{"cache-salt", "", "any text, mixed into the cache and skip keys: change it to force a fresh build stage and a rebuild"},
	{"cache-retention-days", "14", "days the lifecycle policy of a repository ms-build creates keeps build caches and skip records"},
	{"cache-write", "auto", "who writes the build caches and skip records later runs read: auto (the default branch, protected branches and tags; never a pull or merge request), always or never"},
	{"create-repository", "true", "create the repository (scan on push on) when it is missing"},
	{"max-image-size", "", "fail when the pushed image is larger, compressed as ECR counts it (e.g. 250MB, 1.5GiB)"},
	{"max-image-growth", "", "fail when the pushed image grew more than this against the default branch's current image (e.g. 10MB or 5%)"},
	{"network", "", "network mode for RUN steps: default, host or none (default: the daemon's)"},
	{"secrets", "", "build secrets for RUN --mount=type=secret, one id=value a line (never stored in the image or the cache)"},
	{"secret-files", "", "build secrets read from files, one id=path a line"},
	{"secret-envs", "", "build secrets read from environment variables, one id=VARIABLE a line"},
	{"ssh", "", "SSH agent sockets or keys for RUN --mount=type=ssh: default (the agent at SSH_AUTH_SOCK), or one id=path a line"},
	{"pull", "false", "always resolve base images against their registry, as docker build --pull"},
	{"no-cache", "false", "build every step: read and write no cache and no skip record"},
	{"labels", "", "labels added to the runtime image's config, one KEY=VALUE a line; they override the OCI labels taken from the repository"},
	{"annotations", "", "annotations added to the runtime image's manifest, one KEY=VALUE a line (the image is then published as an OCI manifest)"},
	{"builder", "docker", "where the build runs: docker (the engine at DOCKER_HOST), or a BuildKit daemon at tcp://host:port (with mTLS) or unix:///path"},
	{"buildkit-ca", "", "for a tcp:// builder: the CA certificate that signed the daemon's, as a path or PEM text"},
	{"buildkit-cert", "", "for a tcp:// builder: the client certificate, as a path or PEM text"},
	{"buildkit-key", "", "for a tcp:// builder: the client certificate's key, as a path or PEM text (masked)"},
	{"platforms", "", "platforms to build, e.g. linux/amd64,linux/arm64 (default: the builder's); more than one needs a BuildKit builder, or ms-build merge of per-platform runs"},
	{"images", "", "merge instead of building: the images of each platform that separate runs pushed to repository, one a line or comma separated, each a digest or an image-uri output; they are published as one index under tags (the build inputs are ignored)"},
}

// Inputs holds every input, parsed and validated.
type Inputs struct {
	Repository     string
	Region         string
	RegistryID     string
	Context        string
	File           string
	BuildStage     string
	Target         string
	BuildArgs      []BuildArg
	Tags           []string
	Push           bool
	DryRun         bool
	Cache          bool
	CacheKeyFiles  []string
	CacheSalt      string
	CacheRetention int // days
	// CacheWrite is whether the run writes the build caches, branch
	// pointers and skip records later runs read: cache-write applied to
	// what the CI says of the run (CI.Trusted).
	CacheWrite       bool
	CreateRepository bool
	MaxImageSize     int64 // bytes; 0 means no limit
	MaxImageGrowth   pipeline.Growth
	Network          string
	Secrets          []Secret
	SSH              []SSH
	Pull             bool
	NoCache          bool
	// Labels and Annotations are the user's KEY=VALUE lines, by key.
	Labels      map[string]string
	Annotations map[string]string
	// Builder is where the build runs, and for which platforms.
	Builder Builder

	// Release is the semantic version (1.4.2) the run releases when latest
	// is among Tags because of it: the run keeps latest only when no higher
	// release is in the repository. "" when latest (if any) is not decided
	// by a release.
	Release string

	// Notices are what the inputs' reading decided that the user should
	// hear: the run's trust, a tag that was dropped.
	Notices []string

	// Images are the per-platform images a merge joins (digests or
	// image URIs); none: the run builds.
	Images []string
}

// Secret is one build secret: its value, or the file that holds it.
type Secret struct {
	ID    string
	Value []byte // from secrets or secret-envs
	File  string // from secret-files
}

// SSH is one SSH agent socket or key set for RUN --mount=type=ssh.
type SSH struct {
	ID    string   // "default" unless named
	Paths []string // an agent's socket (SSH_AUTH_SOCK's when the line names none) or private keys
}

// BuildArg is one build argument, in the order given.
type BuildArg struct {
	Key, Value string
	FromEnv    bool // KEY alone: the value came from the environment, and is masked as a secret may be
}

// InputError reports an input that cannot be used. Its message names the
// input and says what is accepted. It is the run's own type: the front end
// and the run report bad input the same way.
type InputError = pipeline.InputError

func inputErr(name, format string, args ...any) error {
	return &InputError{Input: name, Msg: fmt.Sprintf(format, args...)}
}

// Environment is what the inputs' computed defaults are taken from.
type Environment struct {
	Getenv func(string) string
	CI     CI
}

var (
	// ECR's repository name pattern (CreateRepository), 2 to 256 characters.
	repositoryRE = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	regionRE     = regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]+$`)
	accountRE    = regexp.MustCompile(`^[0-9]{12}$`)
	argKeyRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	stageRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// Parse validates raw input values (by input name; absent or empty means the
// default) and fills computed defaults from env. The first problem found is
// returned as an *InputError.
func Parse(raw map[string]string, env Environment) (*Inputs, error) {
	for name := range raw {
		if !slices.ContainsFunc(Specs, func(s Spec) bool { return s.Name == name }) {
			return nil, inputErr(name, "unknown input: the inputs are %s", specNames())
		}
	}
	p := parser{raw: raw, ci: env.CI, getenv: env.Getenv, in: &Inputs{}}
	if p.getenv == nil {
		p.getenv = func(string) string { return "" }
	}
	for _, step := range []func() error{p.switches, p.destination, p.build, p.builder, p.cache, p.secrets, p.metadata, p.images} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return p.in, nil
}

// parser fills Inputs one group of inputs at a time.
type parser struct {
	raw    map[string]string
	ci     CI
	getenv func(string) string
	in     *Inputs
}

func (p *parser) get(name string) string { return strings.TrimSpace(p.raw[name]) }

// switches are the boolean inputs.
func (p *parser) switches() error {
	in := p.in
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"push", &in.Push}, {"dry-run", &in.DryRun}, {"cache", &in.Cache}, {"create-repository", &in.CreateRepository},
		{"pull", &in.Pull}, {"no-cache", &in.NoCache}} {
		var err error
		if *b.dst, err = parseBool(b.name, p.get(b.name)); err != nil {
			return err
		}
	}
	return nil
}

// destination is where the image goes: repository, region, registry.
func (p *parser) destination() error {
	in, get := p.in, p.get
	in.Repository = get("repository")
	local := in.DryRun || !in.Push // no AWS account is used
	switch {
	case in.Repository == "" && in.DryRun:
		in.Repository = "ms-build/dry-run"
	case in.Repository == "" && !in.Push:
		in.Repository = "ms-build/local"
	case in.Repository == "":
		return inputErr("repository", "required: give the ECR repository name, e.g. team/app (or set dry-run: true to build without AWS)")
	case strings.Contains(in.Repository, ".amazonaws.com") || strings.Contains(in.Repository, ":"):
		return inputErr("repository", "%q looks like a registry address or a reference: give only the repository name, e.g. team/app", in.Repository)
	case len(in.Repository) < 2 || len(in.Repository) > 256 || !repositoryRE.MatchString(in.Repository):
		return inputErr("repository", "%q is not a valid ECR repository name: use 2 to 256 lower-case letters, digits and . _ - separated by /, e.g. team/app", in.Repository)
	}

	in.Region = get("aws-region")
	if in.Region == "" {
		in.Region = strings.TrimSpace(p.getenv("AWS_REGION"))
	}
	if in.Region == "" {
		in.Region = strings.TrimSpace(p.getenv("AWS_DEFAULT_REGION"))
	}
	switch {
	case in.Region == "" && local:
		in.Region = "us-east-1"
	case in.Region == "":
		return inputErr("aws-region", "required: set aws-region (or AWS_REGION), e.g. eu-west-1")
	case !regionRE.MatchString(in.Region):
		return inputErr("aws-region", "%q is not an AWS region: use a region code such as us-east-1 or eu-central-1", in.Region)
	}

	in.RegistryID = get("registry-id")
	if in.RegistryID != "" && !accountRE.MatchString(in.RegistryID) {
		return inputErr("registry-id", "%q is not an AWS account id: use the 12 digits of the account that owns the registry, or leave it empty for your own", in.RegistryID)
	}
	return nil
}

// build is what is built and how it is tagged.
func (p *parser) build() error {
	in, get := p.in, p.get
	in.Context = get("context")
	if in.Context == "" {
		in.Context = "."
	}
	in.File = get("file")
	for _, s := range []struct {
		name string
		dst  *string
	}{{"build-stage", &in.BuildStage}, {"target", &in.Target}} {
		v := get(s.name)
		if v != "" && !stageRE.MatchString(v) {
			return inputErr(s.name, "%q is not a stage name: use the name after AS in a FROM line, or a stage's index", v)
		}
		*s.dst = v
	}
	var err error
	if in.BuildArgs, err = parseBuildArgs(p.raw["build-args"], p.getenv); err != nil {
		return err
	}
	res, err := parseTags(p.raw["tags"], p.ci)
	if err != nil {
		return err
	}
	in.Tags, in.Notices = res.Tags, append(in.Notices, res.Notices...)
	if err := p.latest(); err != nil {
		return err
	}
	return p.release(res.Version)
}

// latest keeps latest off the runs that may not move it: a pull or merge
// request, an unprotected branch other than the default. Given in tags, it is
// dropped with a notice rather than refused, so that one workflow can serve
// pushes and pull requests; when it was the only tag, the commit's short sha
// takes its place.
func (p *parser) latest() error {
	in := p.in
	if p.ci.MayTagLatest() || !slices.Contains(in.Tags, "latest") {
		return nil
	}
	in.Tags = slices.DeleteFunc(in.Tags, func(t string) bool { return t == "latest" })
	msg := fmt.Sprintf("tags: latest is not attached by a %s: only the default branch, protected branches and tags move it", p.ci.Kind())
	if len(in.Tags) == 0 {
		if len(p.ci.SHA) < 7 {
			return inputErr("tags", "latest is not attached by a %s, and no other tag was given or can be derived: give another tag, e.g. pr-<number>", p.ci.Kind())
		}
		in.Tags = []string{p.ci.SHA[:7]}
		msg += "; tagged " + in.Tags[0] + " instead"
	}
	in.Notices = append(in.Notices, msg)
	return nil
}

// release decides what latest needs when the run builds a semantic
// version (a pushed tag v1.4.2, or a semver rule's value): a pre-release
// never moves latest (dropped with a notice); a release keeps it only when
// no higher release is in the repository, which the run checks against the
// repository's tags (Inputs.Release).
func (p *parser) release(v *tags.Version) error {
	in := p.in
	if v == nil || !slices.Contains(in.Tags, "latest") {
		return nil
	}
	if v.Release() {
		in.Release = v.Core()
		return nil
	}
	in.Tags = slices.DeleteFunc(in.Tags, func(t string) bool { return t == "latest" })
	msg := fmt.Sprintf("tags: latest is not attached by pre-release %s: only a release (no pre-release part) moves it", v.String())
	if len(in.Tags) == 0 {
		if len(p.ci.SHA) < 7 {
			return inputErr("tags", "latest is not attached by pre-release %s, and no other tag was given or can be derived: give another tag", v.String())
		}
		in.Tags = []string{p.ci.SHA[:7]}
		msg += "; tagged " + in.Tags[0] + " instead"
	}
	in.Notices = append(in.Notices, msg)
	return nil
}

// cache is the cache's inputs, the size limit and the network.
func (p *parser) cache() error {
	in, get := p.in, p.get
	in.CacheKeyFiles = splitList(get("cache-key-files"))
	for _, g := range in.CacheKeyFiles {
		if strings.HasPrefix(g, "/") || slices.Contains(strings.Split(g, "/"), "..") {
			return inputErr("cache-key-files", "%q leaves the build context: use globs relative to the context, e.g. **/*.csproj", g)
		}
	}
	if err := p.cacheWrite(); err != nil {
		return err
	}
	in.CacheSalt = get("cache-salt")
	in.CacheRetention = 14
	if v := get("cache-retention-days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return inputErr("cache-retention-days", "%q is not a number of days: use a whole number from 1 to 3650", v)
		}
		in.CacheRetention = n
	}
	if v := get("max-image-size"); v != "" {
		var err error
		if in.MaxImageSize, err = ParseSize(v); err != nil {
			return inputErr("max-image-size", "%q is not a size: use a number with an optional unit B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB, e.g. 250MB", v)
		}
		if in.MaxImageSize <= 0 {
			return inputErr("max-image-size", "%q must be more than 0: give a size such as 250MB, or leave it empty for no limit", v)
		}
	}
	if v := get("max-image-growth"); v != "" {
		g, err := parseGrowth(v)
		if err != nil {
			return inputErr("max-image-growth", "%q is not a size or a percentage: use a size such as 10MB (units B, KB, MB, GB or KiB, MiB, GiB) or a percentage such as 5%%, more than 0", v)
		}
		in.MaxImageGrowth = g
	}
	in.Network = strings.ToLower(get("network"))
	switch in.Network {
	case "", "default", "host", "none":
	default:
		return inputErr("network", "%q is not a network mode BuildKit supports: use default, host or none", get("network"))
	}
	return nil
}

// cacheWrite decides whether the run writes what later runs read. auto
// follows the CI (CI.Trusted); always and never override it.
func (p *parser) cacheWrite() error {
	in, mode := p.in, strings.ToLower(p.get("cache-write"))
	trusted := p.ci.Trusted()
	switch mode {
	case "", "auto":
		in.CacheWrite = trusted
		if !trusted && in.Cache && !in.NoCache {
			in.Notices = append(in.Notices, fmt.Sprintf("cache-write: this %s reads the trusted build caches and skip records and writes none (cache-write: auto). Only the default branch, protected branches and tags write them, so that code nobody reviewed cannot put layers in their images.", p.ci.Kind()))
		}
	case "always":
		in.CacheWrite = true
		if !trusted {
			in.Notices = append(in.Notices, fmt.Sprintf("cache-write: always: this %s writes build caches and skip records that trusted runs read; give it only to runs whose code you trust.", p.ci.Kind()))
		}
	case "never":
		in.CacheWrite = false
	default:
		return inputErr("cache-write", "%q is not a cache-write mode: use auto (trusted runs write: the default branch, protected branches and tags), always or never", p.get("cache-write"))
	}
	return nil
}

// secretIDRE is what BuildKit accepts as a secret or SSH id.
var secretIDRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// secrets reads the build secrets and SSH sockets. No message names a
// secret's value.
func (p *parser) secrets() error {
	seen := map[string]string{}
	add := func(input, id string, s Secret) error {
		if !secretIDRE.MatchString(id) {
			return inputErr(input, "%q is not a secret id: write one id=... a line, the id made of letters, digits and . _ -", id)
		}
		if other, ok := seen[id]; ok {
			return inputErr(input, "secret %s is given twice (also in %s): give each secret once", id, other)
		}
		seen[id] = input
		p.in.Secrets = append(p.in.Secrets, s)
		return nil
	}
	// A secrets line is named by its number, never quoted: a value that
	// spans lines (a key, a certificate) would put part of itself in the
	// message.
	n := 0
	for line := range strings.Lines(p.raw["secrets"]) {
		n++
		if line = strings.TrimRight(strings.TrimLeft(line, " \t"), "\r\n"); strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, value, ok := strings.Cut(line, "=")
		id = strings.TrimSpace(id)
		if !ok || !secretIDRE.MatchString(id) {
			return inputErr("secrets", "line %d is not id=value with an id of letters, digits and . _ - (a value spanning lines goes in secret-files or secret-envs): write one id=value a line", n)
		}
		if err := add("secrets", id, Secret{ID: id, Value: []byte(value)}); err != nil {
			return err
		}
	}
	for _, line := range lines(p.raw["secret-envs"]) {
		id, name, ok := strings.Cut(line, "=")
		id, name = strings.TrimSpace(id), strings.TrimSpace(name)
		if !ok || name == "" {
			return inputErr("secret-envs", "%q: write one id=VARIABLE a line", line)
		}
		value := p.getenv(name)
		if value == "" {
			return inputErr("secret-envs", "%s is not set (for secret %s): set it in the job's environment", name, id)
		}
		if err := add("secret-envs", id, Secret{ID: id, Value: []byte(value)}); err != nil {
			return err
		}
	}
	for _, line := range lines(p.raw["secret-files"]) {
		id, path, ok := strings.Cut(line, "=")
		id, path = strings.TrimSpace(id), strings.TrimSpace(path)
		if !ok || path == "" {
			return inputErr("secret-files", "%q: write one id=path a line", line)
		}
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
			return inputErr("secret-files", "%s (for secret %s) is not a readable file: give the path of the file that holds the secret", path, id)
		}
		if err := add("secret-files", id, Secret{ID: id, File: path}); err != nil {
			return err
		}
	}
	return p.ssh()
}

// ssh reads the ssh input: default, or id=path[,path] lines.
func (p *parser) ssh() error {
	seen := map[string]bool{}
	for _, line := range lines(p.raw["ssh"]) {
		id, paths, _ := strings.Cut(line, "=")
		id = strings.TrimSpace(id)
		if !secretIDRE.MatchString(id) {
			return inputErr("ssh", "%q is not an SSH id: write default, or one id=path a line", id)
		}
		if seen[id] {
			return inputErr("ssh", "%s is given twice: give each SSH id once", id)
		}
		seen[id] = true
		s := SSH{ID: id, Paths: splitList(paths)}
		if len(s.Paths) == 0 {
			sock := p.getenv("SSH_AUTH_SOCK")
			if sock == "" {
				return inputErr("ssh", "%s names no path and SSH_AUTH_SOCK is not set: start an agent (ssh-agent, webfactory/ssh-agent) or give id=path to a key", id)
			}
			s.Paths = []string{sock}
		}
		for _, path := range s.Paths {
			if _, err := os.Stat(path); err != nil {
				return inputErr("ssh", "%s (for %s) is not there: give the path of an SSH agent's socket or of a private key", path, id)
			}
		}
		p.in.SSH = append(p.in.SSH, s)
	}
	return nil
}

// imageRE is one image a merge joins: a digest, or an image URI
// (<registry>/<repository>@sha256:...).
var imageRE = regexp.MustCompile(`^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/[a-z0-9._/-]+@)?sha256:[0-9a-f]{64}$`)

// images reads the images a merge joins: at least two, each once, each a
// digest or the URI of an image in repository. The pipeline checks the
// registry's host once it has logged in.
func (p *parser) images() error {
	v := p.raw["images"]
	if strings.TrimSpace(v) == "" {
		return nil
	}
	in := p.in
	if !in.Push {
		return inputErr("images", "a merge publishes an index, and push is false: set push: true, or leave images empty to build")
	}
	seen := map[string]string{}
	for _, img := range splitList(v) {
		if !imageRE.MatchString(img) {
			return inputErr("images", "%s is not an image: give each as sha256:<64 hex digits> or <registry>/<repository>@sha256:..., the digest or image-uri output of the run that pushed it", quoteValue(img))
		}
		where, d, ok := strings.Cut(img, "@")
		if !ok {
			d = img
		} else if _, repo, _ := strings.Cut(where, "/"); repo != in.Repository {
			return inputErr("images", "%s is an image of %s, not of repository %s: an index names images of its own repository; push each platform's image to %s", quoteValue(img), quoteValue(repo), in.Repository, in.Repository)
		}
		if other, dup := seen[d]; dup {
			return inputErr("images", "%s is given twice (also as %s): give each platform's image once", quoteValue(img), quoteValue(other))
		}
		seen[d] = img
		in.Images = append(in.Images, img)
	}
	if len(in.Images) < 2 {
		return inputErr("images", "one image given: give the images of at least two platforms (an index of one platform adds nothing to the image itself)")
	}
	return nil
}

// quoteValue is a value in a message: quoted, cut when long.
func quoteValue(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return strconv.Quote(s)
}

// lines are v's lines without blanks and # comments, trimmed at the start.
func lines(v string) []string {
	var out []string
	for line := range strings.Lines(v) {
		line = strings.TrimRight(strings.TrimLeft(line, " \t"), "\r\n")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

func specNames() string {
	names := make([]string, len(Specs))
	for i, s := range Specs {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// parseBool accepts the YAML 1.2 core schema booleans, as GitHub's
// getBooleanInput does; empty means the input's documented default.
func parseBool(name, v string) (bool, error) {
	if v == "" {
		for _, s := range Specs {
			if s.Name == name {
				v = s.Default
			}
		}
	}
	switch v {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, inputErr(name, "%q is not a boolean: use true or false", v)
}

func parseBuildArgs(v string, getenv func(string) string) ([]BuildArg, error) {
	var args []BuildArg
	seen := map[string]bool{}
	for line := range strings.Lines(v) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !argKeyRE.MatchString(key) {
			// The value may be a secret: name the key only.
			return nil, inputErr("build-args", "%q is not a build argument name: write one KEY=VALUE a line, KEY made of letters, digits and _", key)
		}
		if !ok {
			value = getenv(key)
		}
		if seen[key] {
			return nil, inputErr("build-args", "%s is given twice: give each build argument once", key)
		}
		seen[key] = true
		args = append(args, BuildArg{Key: key, Value: value, FromEnv: !ok})
	}
	return args, nil
}

// parseTags resolves the tags input for the CI's ref (plain tags, or
// metadata-action's rule lines), else the default tags, and checks each.
func parseTags(v string, ci CI) (tags.Resolved, error) {
	res, err := tags.Resolve(v, ci.Ref())
	if err != nil {
		return tags.Resolved{}, inputErr("tags", "%v", err)
	}
	list := res.Tags
	if len(list) == 0 {
		list = ci.DefaultTags()
	}
	var out []string
	for _, t := range list {
		switch {
		case strings.ContainsAny(t, ":/@"):
			return tags.Resolved{}, inputErr("tags", "%q is a reference, not a tag: give only the tag (the part after ':'); the registry and repository come from the other inputs", t)
		case !tags.Valid(t):
			return tags.Resolved{}, inputErr("tags", "%q is not a valid tag: use up to 128 letters, digits, _ . - not starting with . or -", t)
		}
		if p, ok := cache.ReservedTagPrefix(t); ok {
			return tags.Resolved{}, inputErr("tags", "%q starts with %q, which ms-build reserves for its own cache references: choose another tag", t, p)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return tags.Resolved{}, inputErr("tags", "none given and none can be derived (no commit sha found): give at least one tag")
	}
	res.Tags = out
	return res, nil
}

// splitList splits a value given one item a line or comma separated.
func splitList(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// sizeUnits are the units max-image-size documents, powers of 1000 and of
// 1024, sized by go-units. Its parsers are not used: each reads every unit in
// one base (FromHumanSize takes 1.5GiB as 1.5e9 bytes, RAMInBytes takes 250MB
// as 250 MiB), and both take more than is documented (1e3, 0x1p4, 250m).
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": units.KB, "mb": units.MB, "gb": units.GB, "tb": units.TB,
	"kib": units.KiB, "mib": units.MiB, "gib": units.GiB, "tib": units.TiB,
}

var errSize = errors.New("not a size")

// ParseSize parses a size such as 250MB, 1.5 GiB or 1048576.
func ParseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := v, ""
	if i >= 0 {
		num, unit = v[:i], strings.ToLower(strings.TrimSpace(v[i:]))
	}
	mult, ok := sizeUnits[unit]
	if !ok || num == "" {
		return 0, errSize
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f*float64(mult) > 1<<62 {
		return 0, errSize
	}
	return int64(f * float64(mult)), nil
}

// parseGrowth parses a growth limit: a size (10MB) or a percentage (5%),
// more than 0.
func parseGrowth(v string) (pipeline.Growth, error) {
	if num, ok := strings.CutSuffix(strings.TrimSpace(v), "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || !(f > 0) || f > 1e6 || strings.ContainsAny(num, "eExXpPnN_+-") {
			return pipeline.Growth{}, errSize
		}
		return pipeline.Growth{Percent: f}, nil
	}
	n, err := ParseSize(v)
	if err != nil || n <= 0 {
		return pipeline.Growth{}, errSize
	}
	return pipeline.Growth{Bytes: n}, nil
}

// sizeAbbrs are the decimal units FormatSize writes (go-units keeps its own
// list unexported).
var sizeAbbrs = []string{"B", "kB", "MB", "GB", "TB", "PB"}

// FormatSize formats bytes for people, in powers of 1000 as ECR's console
// does: 187.3 MB. (go-units' HumanSize writes 187.3MB and 2GB.)
func FormatSize(n int64) string {
	if n < units.KB {
		return fmt.Sprintf("%d B", n)
	}
	return units.CustomSize("%.1f %s", float64(n), units.KB, sizeAbbrs)
}
