package cache

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// dotnetProject is a small .NET solution as a build context.
func dotnetProject() fstest.MapFS {
	return fstest.MapFS{
		"Dockerfile":                       {Data: []byte("FROM sdk AS build\nCOPY . .\nRUN dotnet publish\n")},
		"App.sln":                          {Data: []byte("Microsoft Visual Studio Solution File\n")},
		"src/App/App.csproj":               {Data: []byte(`<Project Sdk="Microsoft.NET.Sdk.Web"></Project>`)},
		"src/App/Program.cs":               {Data: []byte(`Console.WriteLine("hello");`)},
		"src/App/packages.lock.json":       {Data: []byte(`{"version": 1}`)},
		"src/App/wwwroot/site.css":         {Data: []byte("body{}")},
		"tests/App.Tests/App.Tests.csproj": {Data: []byte(`<Project Sdk="Microsoft.NET.Sdk"></Project>`)},
		"tests/App.Tests/UnitTest1.cs":     {Data: []byte("public class UnitTest1 {}")},
		"README.md":                        {Data: []byte("# App\n")},
	}
}

func dotnetInput() DependencyInput {
	return DependencyInput{
		FS:          dotnetProject(),
		StageSource: "FROM sdk AS build\nWORKDIR /src\nCOPY . .\nRUN dotnet publish -c Release -o /app/out\n",
		BuildArgs:   map[string]string{"CONFIGURATION": "Release"},
		Platform:    "linux/amd64",
	}
}

func mustDependencyKey(t *testing.T, in DependencyInput) Key {
	t.Helper()
	k, err := DependencyKey(in)
	if err != nil {
		t.Fatalf("DependencyKey: %v", err)
	}
	return k
}

// TestDependencyKeyChanges proves which changes move the key: the dependency
// files and every other input do; source files, unrelated files, times, walk
// order and the permission bits other than the executable bit do not.
func TestDependencyKeyChanges(t *testing.T) {
	t.Parallel()
	edit := func(name, content string) func(*DependencyInput) {
		return func(in *DependencyInput) {
			in.FS = withFiles(in.FS.(fstest.MapFS), fstest.MapFS{name: {Data: []byte(content)}})
		}
	}
	tests := []struct {
		name   string
		change func(*DependencyInput)
		moves  bool
	}{
		{name: "nothing", change: func(*DependencyInput) {}},
		{name: "source file edited", change: edit("src/App/Program.cs", `Console.WriteLine("bye");`)},
		{name: "source file added", change: edit("src/App/Controllers/Home.cs", "class Home {}")},
		{name: "source file removed", change: func(in *DependencyInput) { delete(in.FS.(fstest.MapFS), "src/App/Program.cs") }},
		{name: "unrelated file added", change: edit("docs/guide.md", "# Guide\n")},
		{name: "Dockerfile edited", change: edit("Dockerfile", "FROM sdk\n")},
		{name: "time of a dependency file", change: func(in *DependencyInput) {
			in.FS.(fstest.MapFS)["src/App/App.csproj"].ModTime = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		}},
		{name: "permission bits other than executable", change: func(in *DependencyInput) {
			in.FS.(fstest.MapFS)["src/App/App.csproj"].Mode = 0o664
		}},
		{name: "walk order", change: func(in *DependencyInput) { in.FS = reversedFS{in.FS} }},
		{name: "manifest under .git", change: edit(".git/package.json", "{}")},
		{name: "build arg removed", change: func(in *DependencyInput) { in.BuildArgs = map[string]string{} }, moves: true},

		{name: "dependency file edited", change: edit("src/App/App.csproj", `<Project Sdk="Microsoft.NET.Sdk.Worker"></Project>`), moves: true},
		{name: "lock file edited", change: edit("src/App/packages.lock.json", `{"version": 2}`), moves: true},
		{name: "dependency file added", change: edit("Directory.Packages.props", "<Project/>"), moves: true},
		{name: "dependency file removed", change: func(in *DependencyInput) { delete(in.FS.(fstest.MapFS), "tests/App.Tests/App.Tests.csproj") }, moves: true},
		{name: "dependency file renamed", change: func(in *DependencyInput) {
			m := in.FS.(fstest.MapFS)
			m["src/App/Web.csproj"] = m["src/App/App.csproj"]
			delete(m, "src/App/App.csproj")
		}, moves: true},
		{name: "dependency file made executable", change: func(in *DependencyInput) {
			in.FS.(fstest.MapFS)["src/App/App.csproj"].Mode = 0o755
		}, moves: true},
		{name: "dependency file made a symbolic link", change: func(in *DependencyInput) {
			in.FS.(fstest.MapFS)["global.json"] = &fstest.MapFile{Data: []byte("src/App/global.json"), Mode: fs.ModeSymlink | 0o777}
		}, moves: true},
		{name: "stage source", change: func(in *DependencyInput) { in.StageSource += "RUN echo more\n" }, moves: true},
		{name: "build arg value", change: func(in *DependencyInput) { in.BuildArgs = map[string]string{"CONFIGURATION": "Debug"} }, moves: true},
		{name: "build arg added", change: func(in *DependencyInput) {
			in.BuildArgs = map[string]string{"CONFIGURATION": "Release", "VERSION": "1.2"}
		}, moves: true},
		{name: "build arg name and value boundary", change: func(in *DependencyInput) {
			in.BuildArgs = map[string]string{"CONFIGURATIONR": "elease"}
		}, moves: true},
		{name: "platform", change: func(in *DependencyInput) { in.Platform = "linux/arm64" }, moves: true},
		{name: "salt", change: func(in *DependencyInput) { in.Salt = "1" }, moves: true},
		{name: "platform and salt boundary", change: func(in *DependencyInput) {
			in.Platform, in.Salt = "linux/amd6", "4"
		}, moves: true},
	}
	base := mustDependencyKey(t, dotnetInput())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := dotnetInput()
			tt.change(&in)
			got := mustDependencyKey(t, in)
			if moved := got.Hex != base.Hex; moved != tt.moves {
				t.Errorf("key moved = %v, want %v (base %s, got %s)", moved, tt.moves, base.Hex, got.Hex)
			}
		})
	}
}

// TestDependencyKeySymlink proves a symbolic link counts by its text, which
// is what the tar carries.
func TestDependencyKeySymlink(t *testing.T) {
	t.Parallel()
	link := func(target string) DependencyInput {
		in := dotnetInput()
		in.FS = withFiles(in.FS.(fstest.MapFS), fstest.MapFS{
			"global.json":        {Data: []byte(target), Mode: fs.ModeSymlink | 0o777},
			"build/global.json":  {Data: []byte(`{"sdk": {"version": "8.0.100"}}`)},
			"build/global2.json": {Data: []byte(`{"sdk": {"version": "8.0.100"}}`)},
		})
		return in
	}
	a := mustDependencyKey(t, link("build/global.json"))
	b := mustDependencyKey(t, link("build/global2.json"))
	if a.Hex == b.Hex {
		t.Errorf("changing the target of a linked dependency file left the key at %s", a.Hex)
	}
	if got, want := a.Files, []string{"App.sln", "build/global.json", "global.json", "src/App/App.csproj", "src/App/packages.lock.json", "tests/App.Tests/App.Tests.csproj"}; !cmp.Equal(got, want) {
		t.Errorf("Files (-got +want):\n%s", cmp.Diff(got, want))
	}
}

// TestDependencyKeyResult proves what Key reports besides the hash.
func TestDependencyKeyResult(t *testing.T) {
	t.Parallel()
	k := mustDependencyKey(t, dotnetInput())
	want := Key{
		Hex:        k.Hex,
		Files:      []string{"App.sln", "src/App/App.csproj", "src/App/packages.lock.json", "tests/App.Tests/App.Tests.csproj"},
		Ecosystems: []string{".NET"},
	}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Errorf("Key (-want +got):\n%s", diff)
	}
	if got, want := len(k.Hex), 64; got != want {
		t.Errorf("len(Hex) = %d, want %d", got, want)
	}
	if got, want := k.Short(), k.Hex[:16]; got != want {
		t.Errorf("Short() = %q, want %q", got, want)
	}
}

// TestDependencyKeyNoDependencyFiles proves that a context without any
// dependency file still gets a key, from the other inputs.
func TestDependencyKeyNoDependencyFiles(t *testing.T) {
	t.Parallel()
	in := DependencyInput{
		FS:          fstest.MapFS{"main.sh": {Data: []byte("echo hi\n")}},
		StageSource: "FROM alpine AS build\nCOPY . .\nRUN sh main.sh\n",
		Platform:    "linux/amd64",
	}
	k := mustDependencyKey(t, in)
	if got, want := len(k.Hex), 64; got != want {
		t.Errorf("len(Hex) = %d, want %d", got, want)
	}
	if len(k.Files) != 0 || len(k.Ecosystems) != 0 {
		t.Errorf("Files = %q, Ecosystems = %q; want none", k.Files, k.Ecosystems)
	}
	in.BuildArgs = map[string]string{}
	if got := mustDependencyKey(t, in); got.Hex != k.Hex {
		t.Errorf("empty build args gave key %s, nil build args %s", got.Hex, k.Hex)
	}
	in.StageSource += "RUN true\n"
	if got := mustDependencyKey(t, in); got.Hex == k.Hex {
		t.Errorf("changing the stage source left the key at %s", k.Hex)
	}
	in.FS = fstest.MapFS{"main.sh": {Data: []byte("echo bye\n")}}
	if got, want := mustDependencyKey(t, in).Hex, mustDependencyKey(t, DependencyInput{FS: fstest.MapFS{}, StageSource: in.StageSource, Platform: in.Platform}).Hex; got != want {
		t.Errorf("a context without dependency files: key %s, want the key of an empty context %s", got, want)
	}
}

// exampleName turns a detection pattern into a file name it matches.
func exampleName(pattern string) string { return strings.ReplaceAll(pattern, "*", "x") }

// TestDependencyKeyEcosystems proves that every ecosystem's files are
// detected, at the top and deep in the tree, and that near misses are not.
func TestDependencyKeyEcosystems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		files          []string
		wantFiles      []string
		wantEcosystems []string
	}{{
		name:           ".NET",
		files:          []string{"App.sln", "App.slnx", "src/A/A.csproj", "src/B/B.fsproj", "src/C/C.vbproj", "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "NuGet.config", "src/nuget.config", "src/A/packages.lock.json", "global.json", ".config/dotnet-tools.json", "src/A/Program.cs", "src/A/appsettings.json", "src/A/A.csproj.user"},
		wantFiles:      []string{".config/dotnet-tools.json", "App.sln", "App.slnx", "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "NuGet.config", "global.json", "src/A/A.csproj", "src/A/packages.lock.json", "src/B/B.fsproj", "src/C/C.vbproj", "src/nuget.config"},
		wantEcosystems: []string{".NET"},
	}, {
		name:           "Go",
		files:          []string{"go.mod", "go.sum", "go.work", "go.work.sum", "tools/go.mod", "main.go", "mygo.mod", "go.mod.bak"},
		wantFiles:      []string{"go.mod", "go.sum", "go.work", "go.work.sum", "tools/go.mod"},
		wantEcosystems: []string{"Go"},
	}, {
		name:           "Node",
		files:          []string{"package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "pnpm-workspace.yaml", ".npmrc", ".yarnrc.yml", "bun.lockb", "packages/ui/package.json", "index.js", "tsconfig.json"},
		wantFiles:      []string{".npmrc", ".yarnrc.yml", "bun.lockb", "npm-shrinkwrap.json", "package-lock.json", "package.json", "packages/ui/package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml", "yarn.lock"},
		wantEcosystems: []string{"Node"},
	}, {
		name:           "Python",
		files:          []string{"requirements.txt", "requirements-dev.txt", "svc/requirements.txt", "pyproject.toml", "poetry.lock", "uv.lock", "Pipfile", "Pipfile.lock", "setup.py", "setup.cfg", "app.py", "requirements.in", "dev-requirements.txt"},
		wantFiles:      []string{"Pipfile", "Pipfile.lock", "poetry.lock", "pyproject.toml", "requirements-dev.txt", "requirements.txt", "setup.cfg", "setup.py", "svc/requirements.txt", "uv.lock"},
		wantEcosystems: []string{"Python"},
	}, {
		name:           "Java",
		files:          []string{"pom.xml", "core/pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "gradle.lockfile", "gradle.properties", "gradle/wrapper/gradle-wrapper.properties", "gradle/libs.versions.toml", "sub/gradle/libs.versions.toml", "wrapper/gradle-wrapper.properties", "libs.versions.toml", "gradle/wrapper/gradle-wrapper.jar", "src/main/java/App.java"},
		wantFiles:      []string{"build.gradle", "build.gradle.kts", "core/pom.xml", "gradle.lockfile", "gradle.properties", "gradle/libs.versions.toml", "gradle/wrapper/gradle-wrapper.properties", "pom.xml", "settings.gradle", "settings.gradle.kts", "sub/gradle/libs.versions.toml"},
		wantEcosystems: []string{"Java"},
	}, {
		name:           "Rust",
		files:          []string{"Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "crates/core/Cargo.toml", "src/main.rs", "rust-toolchain"},
		wantFiles:      []string{"Cargo.lock", "Cargo.toml", "crates/core/Cargo.toml", "rust-toolchain.toml"},
		wantEcosystems: []string{"Rust"},
	}, {
		name:           "several",
		files:          []string{"api/go.mod", "web/package.json", "web/package-lock.json", "README.md"},
		wantFiles:      []string{"api/go.mod", "web/package-lock.json", "web/package.json"},
		wantEcosystems: []string{"Go", "Node"},
	}, {
		name:  "none",
		files: []string{"index.html", "main.c", "Makefile"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := fstest.MapFS{}
			for _, f := range tt.files {
				m[f] = &fstest.MapFile{Data: []byte(f)}
			}
			k := mustDependencyKey(t, DependencyInput{FS: m})
			if diff := cmp.Diff(tt.wantFiles, k.Files, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantEcosystems, k.Ecosystems, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Ecosystems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEcosystemsPatterns proves that every detection pattern is detected,
// at the top of the context and below a directory, and only as its own
// ecosystem.
func TestEcosystemsPatterns(t *testing.T) {
	t.Parallel()
	for _, e := range Ecosystems {
		for _, p := range e.Patterns {
			for _, name := range []string{exampleName(p), path.Join("deep/er", exampleName(p))} {
				t.Run(e.Name+"/"+name, func(t *testing.T) {
					t.Parallel()
					k := mustDependencyKey(t, DependencyInput{FS: fstest.MapFS{name: {Data: []byte("x")}, "other.txt": {}}})
					want := Key{Hex: k.Hex, Files: []string{name}, Ecosystems: []string{e.Name}}
					if diff := cmp.Diff(want, k); diff != "" {
						t.Errorf("Key (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

// TestDependencyKeyFiles proves that cache-key-files replaces detection with
// .dockerignore-style globs, and that a glob that matches nothing, or is not
// a glob, is an error that names the input and the glob.
func TestDependencyKeyFiles(t *testing.T) {
	t.Parallel()
	project := withFiles(dotnetProject(), fstest.MapFS{
		"go.mod":             {Data: []byte("module x\n")},
		"deps/a.txt":         {Data: []byte("a")},
		"deps/sub/b.txt":     {Data: []byte("b")},
		"tests/deps.lock":    {Data: []byte("t")},
		"src/App/deps.lock":  {Data: []byte("s")},
		".git/config":        {Data: []byte("[core]")},
		"src/App/App.csproj": {Data: []byte("<Project/>")},
	})
	tests := []struct {
		name      string
		files     []string
		wantFiles []string
		wantErr   string
	}{{
		name:      "double star",
		files:     []string{"**/*.csproj"},
		wantFiles: []string{"src/App/App.csproj", "tests/App.Tests/App.Tests.csproj"},
	}, {
		name:      "top level only",
		files:     []string{"*.sln", "go.mod"},
		wantFiles: []string{"App.sln", "go.mod"},
	}, {
		name:      "question mark and leading ./",
		files:     []string{"./g?.mod"},
		wantFiles: []string{"go.mod"},
	}, {
		name:      "directory stands for its files",
		files:     []string{"deps"},
		wantFiles: []string{"deps/a.txt", "deps/sub/b.txt"},
	}, {
		name:      "exception",
		files:     []string{"**/*.lock", "!tests/**"},
		wantFiles: []string{"src/App/deps.lock"},
	}, {
		name:      "blank lines are ignored",
		files:     []string{"", " go.mod ", "\t"},
		wantFiles: []string{"go.mod"},
	}, {
		name:    "glob matching nothing",
		files:   []string{"**/*.csproj", "**/packages.lock.jsn"},
		wantErr: `input cache-key-files: "**/packages.lock.jsn" matches no file in the build context`,
	}, {
		name:    ".git is not searched",
		files:   []string{".git/config"},
		wantErr: `input cache-key-files: ".git/config" matches no file`,
	}, {
		name:    "not a glob",
		files:   []string{"src/[a"},
		wantErr: `input cache-key-files: "src/[a" is not a valid glob`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := DependencyKey(DependencyInput{FS: project, Files: tt.files})
			if tt.wantErr != "" {
				var ie *InputError
				if !errors.As(err, &ie) || ie.Input != "cache-key-files" {
					t.Fatalf("DependencyKey error = %v, want an *InputError for cache-key-files", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("DependencyKey error = %q, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DependencyKey: %v", err)
			}
			want := Key{Hex: k.Hex, Files: tt.wantFiles}
			if diff := cmp.Diff(want, k); diff != "" {
				t.Errorf("Key (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDependencyKeyFilesOverride proves that the globs, not detection, decide
// the key: a detected file left out of the globs no longer moves it.
func TestDependencyKeyFilesOverride(t *testing.T) {
	t.Parallel()
	in := dotnetInput()
	in.Files = []string{"src/App/App.csproj"}
	base := mustDependencyKey(t, in)
	in.FS = withFiles(in.FS.(fstest.MapFS), fstest.MapFS{"tests/App.Tests/App.Tests.csproj": {Data: []byte("<Project/>")}})
	if got := mustDependencyKey(t, in); got.Hex != base.Hex {
		t.Errorf("a file outside cache-key-files moved the key from %s to %s", base.Hex, got.Hex)
	}
	in.FS = withFiles(in.FS.(fstest.MapFS), fstest.MapFS{"src/App/App.csproj": {Data: []byte("<Project/>")}})
	if got := mustDependencyKey(t, in); got.Hex == base.Hex {
		t.Errorf("a file of cache-key-files changed and the key stayed %s", base.Hex)
	}
}

// dependencyKeyGolden pins the key of goldenInput for each encoding. If the
// test fails because the encoding changed on purpose, bump
// dependencyKeyVersion and add a line for the new version; never edit a line.
var dependencyKeyGolden = map[string]string{
	"msb-dependency-key/v1": "53f61f81580aff877bd1f652461d1a43cd094a76181cec0ba4079244c45f0a1f",
}

func goldenInput() DependencyInput {
	return DependencyInput{
		FS: fstest.MapFS{
			"go.mod":        {Data: []byte("module example.com/app\n\ngo 1.26\n")},
			"go.sum":        {Data: []byte("")},
			"tools/go.mod":  {Data: []byte("module example.com/tools\n"), Mode: 0o755},
			"go.work":       {Data: []byte("tools/go.mod"), Mode: fs.ModeSymlink | 0o777},
			"main.go":       {Data: []byte("package main\n")},
			"cmd/x/main.go": {Data: []byte("package main\n")},
		},
		StageSource: "FROM golang:1.26 AS build\nCOPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\nRUN go build ./...\n",
		BuildArgs:   map[string]string{"GOFLAGS": "-trimpath", "CGO_ENABLED": "0"},
		Platform:    "linux/amd64",
		Salt:        "golden",
	}
}

// TestDependencyKeyGolden proves the encoding does not drift by accident: the
// same inputs must give the same key in every release with the same version.
func TestDependencyKeyGolden(t *testing.T) {
	t.Parallel()
	want, ok := dependencyKeyGolden[dependencyKeyVersion]
	if !ok {
		t.Fatalf("no golden key for %s: add one", dependencyKeyVersion)
	}
	k := mustDependencyKey(t, goldenInput())
	if got := k.Hex; got != want {
		t.Errorf("DependencyKey(goldenInput()) = %s, want %s: the %s encoding changed; bump dependencyKeyVersion and add a golden line for the new version", got, want, dependencyKeyVersion)
	}
	if got, want := fmt.Sprint(k.Files), "[go.mod go.sum go.work tools/go.mod]"; got != want {
		t.Errorf("Files = %s, want %s", got, want)
	}
}

// TestDependencyKeyRestoreSources proves the key is made of what the
// restore sees: another service's lock file leaves it, the service's own
// moves it, files beside the dependency files are left out where the
// ecosystem is known, and cache-key-files still wins.
func TestDependencyKeyRestoreSources(t *testing.T) {
	t.Parallel()
	project := fstest.MapFS{
		"a/go.mod":            {Data: []byte("module a\n")},
		"a/go.sum":            {Data: []byte("dep v1 h1:a=\n")},
		"a/main.go":           {Data: []byte("package main\n")},
		"b/package.json":      {Data: []byte(`{"name":"b"}`)},
		"b/package-lock.json": {Data: []byte(`{"lockfileVersion":3}`)},
		"tools/go.mod":        {Data: []byte("module tools\n")},
		"c/deps.txt":          {Data: []byte("x==1\n")},
	}
	a := DependencyInput{FS: project, Sources: []string{"a"}, StageSource: "FROM golang AS build\nCOPY a .\nRUN go mod download\n"}
	k := mustDependencyKey(t, a)
	if diff := cmp.Diff([]string{"a/go.mod", "a/go.sum"}, k.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if !k.Restore || !slices.Equal(k.Ecosystems, []string{"Go"}) {
		t.Errorf("Restore %v, Ecosystems %q; want true, [Go]", k.Restore, k.Ecosystems)
	}
	for _, change := range []string{"b/package-lock.json", "tools/go.mod", "a/main.go"} {
		in := a
		in.FS = withFiles(project, fstest.MapFS{change: {Data: []byte("changed")}})
		if got := mustDependencyKey(t, in); got.Hex != k.Hex {
			t.Errorf("a change to %s moved service a's key", change)
		}
	}
	in := a
	in.FS = withFiles(project, fstest.MapFS{"a/go.sum": {Data: []byte("dep v2 h1:b=\n")}})
	if got := mustDependencyKey(t, in); got.Hex == k.Hex {
		t.Error("a change to a/go.sum left service a's key")
	}

	// An ecosystem not known: every file the sources match.
	c := mustDependencyKey(t, DependencyInput{FS: project, Sources: []string{"c/deps.txt"}})
	if diff := cmp.Diff([]string{"c/deps.txt"}, c.Files); diff != "" {
		t.Errorf("unknown ecosystem files (-want +got):\n%s", diff)
	}
	// Exclusions follow the sources.
	ex := mustDependencyKey(t, DependencyInput{FS: project, Sources: []string{"**", "!b", "!tools"}})
	if diff := cmp.Diff([]string{"a/go.mod", "a/go.sum"}, ex.Files); diff != "" {
		t.Errorf("with exclusions (-want +got):\n%s", diff)
	}
	// cache-key-files wins over the sources.
	in = a
	in.Files = []string{"b/package-lock.json"}
	if got := mustDependencyKey(t, in); !slices.Equal(got.Files, []string{"b/package-lock.json"}) || got.Restore {
		t.Errorf("with cache-key-files: files %q, Restore %v", got.Files, got.Restore)
	}
}
