# berth with its browser UI, built from crates.io, npm and Debian's packages alone.
#   docker build -t berth .
#   docker run -d --name berth -p 8080:8080 -v berth-data:/var/lib/berth \
#     -v /var/run/docker.sock:/var/run/docker.sock -v /etc/berth:/etc/berth:ro \
#     berth serve --config /etc/berth/berth.toml
# See docs/deploy.md for what berth can and cannot do from inside a container.

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The UI's packages first, so that a change of code alone does not fetch them again.
COPY static/package.json static/package-lock.json static/
RUN cd static && npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN cd static && npm run build \
 && cd .. && cargo build --release --locked --bin berth

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/berth /usr/local/bin/berth
ENV BERTH_LISTEN=0.0.0.0:8080 \
    BERTH_DATA_DIR=/var/lib/berth \
    RUST_LOG=info
VOLUME /var/lib/berth
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["serve"]
