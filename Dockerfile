# Joinery in a container: one static-ish binary (templates, CSS/JS and both backends'
# migrations are compiled in), run as an unprivileged user.
#
#   docker build -t joinery .
#   docker run -p 8080:8080 -v joinery-data:/var/lib/joinery \
#     -e JOINERY_BASE_URL=https://team.example.com \
#     -e JOINERY_SESSION_KEY=$(openssl rand -hex 64) -e JOINERY_TOKEN_KEY=$(openssl rand -hex 32) \
#     joinery
#
# With PostgreSQL, add -e DATABASE_URL=postgres://user:pass@db:5432/joinery. For Prometheus
# metrics add -e JOINERY_METRICS_BIND=0.0.0.0:9100 -p 127.0.0.1:9100:9100 (a separate port,
# never the public one); for a log collector, -e JOINERY_LOG_FORMAT=json. README, "Deploy".

# --- build ----------------------------------------------------------------------------------
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so a source change does not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
RUN mkdir -p src && echo 'fn main() {}' > src/main.rs && echo '' > src/lib.rs \
    && cargo build --release --locked --bin joinery || true
COPY . .
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin joinery

# --- run ------------------------------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libpq5 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/joinery --create-home joinery
COPY --from=build /src/target/release/joinery /usr/local/bin/joinery
USER joinery
WORKDIR /var/lib/joinery
ENV JOINERY_BIND=0.0.0.0:8080 \
    JOINERY_DATA_DIR=/var/lib/joinery \
    JOINERY_LOG=info
VOLUME ["/var/lib/joinery"]
EXPOSE 8080
# Ready means the database answers (/readyz); /healthz only says the process is alive.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz || exit 1
# SIGTERM: finish requests in flight and the outbox batch in hand, then exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/joinery"]
CMD ["serve"]
