# The single `vaultstream` binary (api, worker, bot, migrate, keys, doctor).
#   docker build -t vaultstream .
#   docker run -p 8080:8080 -v vs-data:/data vaultstream        # embedded: SQLite + local disk
# Production shape with PostgreSQL, Redis and MinIO: deploy/docker-compose.yml.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin vaultstream \
 && cp target/release/vaultstream /usr/local/bin/vaultstream

FROM debian:bookworm-slim
# ca-certificates for HTTPS upstreams; yt-dlp (PyPI) for YouTube and video
# pages; ffmpeg lets yt-dlp merge formats (progressive MP4s need none).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-pip ffmpeg tini \
 && pip3 install --no-cache-dir --break-system-packages yt-dlp \
 && apt-get purge -y python3-pip && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /data vaultstream \
 && mkdir -p /data && chown vaultstream /data
COPY --from=build /usr/local/bin/vaultstream /usr/local/bin/vaultstream
USER vaultstream
ENV VAULTSTREAM_BIND=0.0.0.0:8080 \
    VAULTSTREAM_DATA_DIR=/data \
    VAULTSTREAM_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "vaultstream"]
CMD ["all"]
