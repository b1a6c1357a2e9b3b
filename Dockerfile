# syntax=docker/dockerfile:1
# The bindery image: docker build -t bindery:0.1.0 .
# (deploy/helm/bindery and deploy/kustomize run it; push it to your registry
# and set image.repository / `kustomize edit set image`.)

# Build: the toolchain rust-toolchain.toml pins (Rust 1.95 with wasm32-wasip2,
# which host/build.rs needs to compile the built-in plugins it embeds).
# Bookworm here and below: the binary links against the runtime's glibc.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY rust-toolchain.toml ./
RUN rustup toolchain install && rustup target add wasm32-wasip2 && cargo --version
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin bindery \
    && install -D -m 0755 target/release/bindery /out/bindery

# Run: glibc and libgcc only, no shell, uid/gid 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/bindery /usr/local/bin/bindery
USER 65532:65532
# The admin server (/metrics, /healthz, /readyz); the forwarder's ports are
# policy.ports (default 20000-29999).
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/bindery"]
CMD ["run"]
