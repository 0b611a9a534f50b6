package dockerfile_test

import (
	"strings"
	"testing"

	"github.com/org/ms-build-action/internal/cache"
	"github.com/org/ms-build-action/internal/dockerfile"
)

// TestAdvice proves every ecosystem has its own cache-friendly form, that
// the form copies the whole context only after a RUN that had a narrower
// part of it (dockerfile.WholeContextCopy finds nothing in it), and that an
// unknown ecosystem gets the form with placeholders.
func TestAdvice(t *testing.T) {
	t.Parallel()
	generic := dockerfile.Advice("")
	tests := []struct {
		name      string
		ecosystem string
		contains  []string
	}{
		{name: ".NET", ecosystem: ".NET", contains: []string{"COPY *.sln ./\nCOPY src/App/App.csproj src/App/\nRUN dotnet restore\nCOPY . .\nRUN dotnet publish -c Release -o /app/out --no-restore"}},
		{name: "Go", ecosystem: "Go", contains: []string{"COPY go.mod go.sum ./\nRUN go mod download\nCOPY . .\nRUN go build"}},
		{name: "Node", ecosystem: "Node", contains: []string{"COPY package.json package-lock.json ./", "RUN npm ci\nCOPY . ."}},
		{name: "Python", ecosystem: "Python", contains: []string{"COPY requirements.txt ./", "pip install", "-r requirements.txt\nCOPY . ."}},
		{name: "Java", ecosystem: "Java", contains: []string{"COPY pom.xml ./\nRUN mvn -B dependency:go-offline\nCOPY . .", "gradlew dependencies"}},
		{name: "Rust", ecosystem: "Rust", contains: []string{"COPY Cargo.toml Cargo.lock ./", "fn main() {}", "COPY . .\nRUN touch src/main.rs && cargo build --release"}},
		{name: "any case", ecosystem: ".net", contains: []string{"RUN dotnet restore"}},
		{name: "upper case", ecosystem: "GO", contains: []string{"RUN go mod download"}},
		{name: "unknown", ecosystem: "COBOL", contains: []string{generic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := dockerfile.Advice(tt.ecosystem)
			for _, want := range tt.contains {
				if !strings.Contains(a, want) {
					t.Errorf("Advice(%q) =\n%s\nwant it to contain\n%s", tt.ecosystem, a, want)
				}
			}
			src := "FROM sdk AS build\nWORKDIR /src\n" + a + "\n"
			d, err := dockerfile.Parse(strings.NewReader(src))
			if err != nil {
				t.Fatalf("ParseDockerfile(Advice(%q)): %v", tt.ecosystem, err)
			}
			if c, r, ok := d.WholeContextCopy(&d.Stages[0]); ok {
				t.Errorf("Advice(%q) copies the whole context at line %d before the RUN at line %d:\n%s", tt.ecosystem, c, r, src)
			}
		})
	}
	for _, e := range cache.Ecosystems {
		if got := dockerfile.Advice(e.Name); got == generic || !strings.Contains(got, "COPY . .") {
			t.Errorf("Advice(%q) =\n%s\nwant a form of its own that copies the rest with COPY . .", e.Name, got)
		}
	}
}
