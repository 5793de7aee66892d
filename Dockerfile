# scimsync container image: build with Rust on Debian, run on a distroless base as a non-root
# user. TLS is rustls (no OpenSSL); the CA bundle is the only thing besides libc it needs.
#
#   docker build --build-arg SCIMSYNC_BUILD_COMMIT=$(git rev-parse --short HEAD) -t scimsync .
#   docker run --rm -p 9090:9090 scimsync          # the demo: examples/ against the built-in emulator
#
# In production, mount your config and a volume for the audit log (README, "Deployment"):
#   docker run -d -p 9090:9090 -e SLACK_SCIM_TOKEN -v /etc/scimsync:/etc/scimsync:ro \
#     -v scimsync-state:/var/lib/scimsync scimsync run --config /etc/scimsync/scimsync.yaml --listen 0.0.0.0:9090
#
# On a machine without a Docker daemon, deploy/build-image.sh builds the same image with
# buildah from a debootstrap base and checks it.

# Base images by tag, not pinned: no registry is reachable where this file is maintained, so
# no digest could be checked. Pin them for your own builds (`docker buildx imagetools inspect
# rust:1.89-bookworm`, then `FROM rust:1.89-bookworm@sha256:…`). The released image is not
# built from this file: deploy/release/image makes it FROM scratch from the release binary
# (nothing but the binary, the CA bundle and a passwd), so it has no base image to pin.
FROM rust:1.89-bookworm AS build
# `--version` says which commit (the build context has no .git) and when: SOURCE_DATE_EPOCH
# for a reproducible date.
ARG SCIMSYNC_BUILD_COMMIT=unknown
ARG SOURCE_DATE_EPOCH
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo ./.cargo
COPY src ./src
COPY tests ./tests
RUN cargo build --release --locked --bin scimsync \
 && strip target/release/scimsync
# The demo (config/ → examples/, the emulated organisation and the audit log kept beside them)
# and /var/lib/scimsync, owned by the runtime user.
COPY config ./demo/opt/scimsync/config
COPY examples ./demo/opt/scimsync/examples
RUN mkdir -p demo/var/lib/scimsync

# glibc, libgcc, the CA bundle and a nonroot user (65532) — no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/scimsync /usr/local/bin/scimsync
COPY --from=build --chown=65532:65532 /src/demo/ /
WORKDIR /opt/scimsync
USER 65532:65532
EXPOSE 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["/usr/local/bin/scimsync", "healthcheck", "--url", "http://127.0.0.1:9090/healthz"]
ENTRYPOINT ["/usr/local/bin/scimsync"]
# Listen on every interface: inside a container, 127.0.0.1 is unreachable from outside.
CMD ["run", "--config", "/opt/scimsync/config/scimsync.yaml", "--listen", "0.0.0.0:9090"]
