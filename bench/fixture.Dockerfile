# The benchmark's fixture: this repository as a service, vendored. The
# restore step compiles every vendored package (what `dotnet restore` plus
# the first compile of the dependencies is to a .NET build): real work that
# takes most of a cold build. It is in the cache-friendly form: dependency
# files first, restore, then the sources.
FROM msb-example/golang:1.26 AS build
ENV GOTOOLCHAIN=local GOFLAGS="-mod=vendor -trimpath" GOCACHE=/tmp/go-cache CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
COPY vendor/ vendor/
RUN go build $(go list -e -f '{{if not .Error}}{{.ImportPath}}{{end}}' $(grep -v '^#' vendor/modules.txt))
COPY . .
RUN go build -o /out/ms-build .

FROM msb-example/runtime:1
COPY --from=build /out/ms-build /usr/local/bin/ms-build
ENTRYPOINT ["/usr/local/bin/ms-build"]
