# syntax=docker/dockerfile:1

# Build stage: a static engine binary. The module and build caches are BuildKit
# cache mounts, so a rebuild after a code change downloads nothing.
FROM golang:1.26 AS build
WORKDIR /src

COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux \
    go build -trimpath -ldflags='-s -w' -o /out/engine ./cmd/engine

# The directories the engine writes to, created here because the runtime image
# has no shell. A named volume mounted on them starts with their owner.
RUN mkdir -p /out/state/data /out/state/uploads /out/state/backups

# Runtime stage: no shell, no package manager, a non-root user (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot

ARG REVISION=unknown
LABEL org.opencontainers.image.title="comanda engine" \
      org.opencontainers.image.revision="${REVISION}"

COPY --from=build /out/engine /usr/local/bin/engine
COPY --from=build --chown=65532:65532 /out/state /var/lib/comanda

WORKDIR /var/lib/comanda
ENV HTTP_ADDR=:8080 \
    DATA_DIR=/var/lib/comanda/data \
    UPLOADS_DIR=/var/lib/comanda/uploads
USER 65532:65532
EXPOSE 8080

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/engine", "healthcheck", "--url", "http://127.0.0.1:8080/health"]

ENTRYPOINT ["/usr/local/bin/engine"]
CMD ["serve"]
