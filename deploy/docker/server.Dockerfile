# syntax=docker/dockerfile:1
# PartyPic server image. Build from the repository root:
#   docker build -f deploy/docker/server.Dockerfile -t partypic-server .

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the crate registry and target/ between builds; the binary is copied out
# of the cache so the next stage can see it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin partypic \
 && install -D -m 0755 target/release/partypic /out/partypic \
 && install -d -m 0750 /out/data

# Debian slim rather than distroless: the server runs Debian's heif-convert (libheif) to turn
# iPhone HEIC photos into the JPEG variants guests see, and ffmpeg/ffprobe to check video clips
# and make their poster frame and web MP4. Nothing else is added.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libheif-examples ffmpeg \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/partypic /usr/local/bin/partypic
# DATA_DIR is only used by the embedded default (SQLite + local photos): `docker run -v …:/data`.
COPY --from=build --chown=65532:65532 /out/data /data
ENV PORT=3000 \
    DATA_DIR=/data \
    LOG_FORMAT=json
USER 65532:65532
# 3000: the API and web client; 9464: GET /metrics (METRICS_PORT), for Prometheus only.
EXPOSE 3000 9464
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/partypic"]
