# The ms-build image, from the release binaries (release.yml): FROM scratch
# with CA certificates and ms-build, plus a static busybox userland (1 MB),
# because a GitLab job runs its script with the image's shell: a bare scratch
# image cannot be a job image.
FROM --platform=$BUILDPLATFORM alpine:3.22 AS certs
RUN apk add --no-cache ca-certificates

FROM busybox:1.37-musl AS shell
RUN mkdir /out && cp /bin/busybox /out/ && \
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "/out/$a"; done

FROM scratch
ARG TARGETOS TARGETARCH VERSION
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=shell /out/ /bin/
COPY dist/ms-build_${TARGETOS}_${TARGETARCH} /usr/local/bin/ms-build
ENV PATH=/usr/local/bin:/bin
LABEL org.opencontainers.image.title=ms-build org.opencontainers.image.version=$VERSION
ENTRYPOINT ["/usr/local/bin/ms-build"]
