# Mamori in a container: one binary, SQLite on a volume at /data.
#
#   docker build -t mamori .
#   docker run -p 8080:8080 -v mamori-data:/data \
#     -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET \
#     -e MAMORI_CONFIG=/data/mamori.yaml mamori
#
# The database and its key file (mamori.key, beside the database unless
# MAMORI_ENCRYPTION_KEY is set) live in /data: keep that volume, and back
# the key up apart from the database.

# Build: cgo is needed for SQLite (mattn/go-sqlite3), so the builder has gcc
# and the runtime image has glibc.
FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=1
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mamori ./cmd/mamori \
 && mkdir -p /out/root/data

# Run: distroless base (glibc, CA certificates, no shell) as the nonroot
# user 65532. /data is copied in as an entry of / so that --chown applies
# to the directory itself: one made by WORKDIR would belong to root and the
# database could not be created in it. A named volume mounted there starts
# with that ownership.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/mamori /mamori
COPY --from=build --chown=65532:65532 /out/root/ /
WORKDIR /data
ENV MAMORI_DB=/data/mamori.db \
    MAMORI_ADDR=:8080
EXPOSE 8080
USER 65532:65532
# No HEALTHCHECK: distroless has no shell or curl to run one. Point the
# orchestrator's probes at GET /healthz (liveness) and GET /readyz
# (readiness: the database answers) on port 8080.
ENTRYPOINT ["/mamori"]
CMD ["serve"]
