# The ms-build image, from the release binaries (release.yml): FROM scratch
# with CA certificates and ms-build, plus a static busybox userland (1 MB),
# because a GitLab job runs its script with the image's shell: a bare scratch
# image cannot be a job image.
#
# The bases are pinned by the digest of their multi-platform index: a tag can
# be moved, a digest cannot. The digests are the ones public projects pin for
# these tags (alpine 3.22.5, busybox 1.37.0-musl); they were not pulled or
# checked where this file was written (no registry access there): the first
# release build resolves them, and fails if one does not exist. To move a
# base: `docker buildx imagetools inspect <image:tag>` and copy its Digest.
FROM --platform=$BUILDPLATFORM alpine:3.22.5@sha256:14358309a308569c32bdc37e2e0e9694be33a9d99e68afb0f5ff33cc1f695dce AS certs
RUN apk add --no-cache ca-certificates

FROM busybox:1.37.0-musl@sha256:5cec3fc171c87218698e85a52af7087de727372aae264a787b8112901a5b0092 AS shell
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
