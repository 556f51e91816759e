# Multi-stage build of arbiter-node. Not run on the project's build machines (they have no
# Docker engine); docker-compose.yml is validated with `docker-compose config` in scripts/test.sh.
FROM rust:1.95-bookworm AS builder
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler && rm -rf /var/lib/apt/lists/*
WORKDIR /arbiter
COPY . .
RUN rustup target add wasm32v1-none wasm32-unknown-unknown && rustup component add rust-src
ENV WASM_BUILD_WORKSPACE_HINT=/arbiter
RUN cargo build --release --locked -p arbiter-node

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
	&& useradd --create-home --uid 1000 arbiter && mkdir -p /data && chown arbiter /data
COPY --from=builder /arbiter/target/release/arbiter-node /usr/local/bin/arbiter-node
USER arbiter
# p2p, RPC, Prometheus
EXPOSE 30333 9944 9615
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/arbiter-node"]
