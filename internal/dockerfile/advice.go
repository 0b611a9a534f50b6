package dockerfile

import "strings"

// advice holds the cache-friendly form of a build stage for each ecosystem,
// by lower-cased name.
var advice = map[string]string{
	".net": `COPY *.sln ./
COPY src/App/App.csproj src/App/
RUN dotnet restore
COPY . .
RUN dotnet publish -c Release -o /app/out --no-restore`,

	"go": `COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -o /out/app .`,

	"node": `COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build`,

	"python": `COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .`,

	"java": `# Maven
COPY pom.xml ./
RUN mvn -B dependency:go-offline
COPY . .
RUN mvn -B package -DskipTests
# Gradle
COPY gradlew settings.gradle build.gradle ./
COPY gradle ./gradle
RUN ./gradlew dependencies --no-daemon
COPY . .
RUN ./gradlew build --no-daemon -x test`,

	"rust": `COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && cargo build --release && rm -rf src
COPY . .
RUN touch src/main.rs && cargo build --release`,
}

// genericAdvice is the cache-friendly form for an unknown ecosystem.
const genericAdvice = `COPY <the dependency files> ./
RUN <restore the dependencies>
COPY . .
RUN <build>`

// Advice returns the cache-friendly form of a build stage for an ecosystem
// (a Name of Ecosystems, in any case): copy the dependency files, restore,
// then copy the rest, so that a change to a source file leaves the restore
// cached. For .NET:
//
//	COPY *.sln ./
//	COPY src/App/App.csproj src/App/
//	RUN dotnet restore
//	COPY . .
//	RUN dotnet publish -c Release -o /app/out --no-restore
//
// For an ecosystem it does not know it returns that form with placeholders.
func Advice(ecosystem string) string {
	if a, ok := advice[strings.ToLower(ecosystem)]; ok {
		return a
	}
	return genericAdvice
}
