# syntax=docker/dockerfile:1
# The bindery image with a Docker daemon: docker build -t bindery:0.1.0 .
# Without one, deploy/image/build makes the same image with buildah (see
# deploy/README.md, "The image"): the release bindery and the shared
# libraries it loads in an image from scratch, laid out by
# deploy/image/rootfs for both.

# Build: the toolchain rust-toolchain.toml pins (Rust 1.95 with wasm32-wasip2,
# which host/build.rs needs to compile the built-in plugins it embeds).
# Bookworm: its glibc is what the image carries.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY rust-toolchain.toml ./
RUN rustup toolchain install && rustup target add wasm32-wasip2 && cargo --version
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin bindery \
    && deploy/image/rootfs /out target/release/bindery

# Run: the binary and its libraries alone, no shell, uid/gid 65532 (nonroot).
FROM scratch
COPY --from=build /out/ /
USER 65532:65532
ENV PATH=/usr/local/bin
# The admin server (/metrics, /healthz, /readyz); the forwarder's ports are
# policy.ports (default 20000-29999).
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/bindery"]
CMD ["run"]
