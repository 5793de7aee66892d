# scimsync container image: build with Rust on Debian, run on a distroless base as a non-root
# user. TLS is rustls (no OpenSSL); the CA bundle is the only thing besides libc it needs.
#
#   docker build -t scimsync .
#   docker run --rm -e SLACK_SCIM_TOKEN -v $PWD/config:/etc/scimsync:ro scimsync
#
# On a machine without a Docker daemon, deploy/build-image.sh builds the same image with
# buildah from a debootstrap base and checks it.

FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY tests ./tests
RUN cargo build --release --locked --bin scimsync \
 && strip target/release/scimsync

# glibc, libgcc, the CA bundle and a nonroot user (65532) — no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/scimsync /usr/local/bin/scimsync
USER 65532:65532
EXPOSE 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["/usr/local/bin/scimsync", "healthcheck", "--url", "http://127.0.0.1:9090/healthz"]
ENTRYPOINT ["/usr/local/bin/scimsync"]
CMD ["run", "--config", "/etc/scimsync/scimsync.yaml"]
