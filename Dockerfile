# HA Sync image: ha-sync (the CronJob) and ha-sync-ui (the dashboard).
#   make docker-build IMAGE=registry.lan:5000/ha-sync:latest
# CI builds the same release binaries with the same flags (`make release`) and runs them.

FROM swift:6.3-bookworm AS build
WORKDIR /src
# Dependencies first, so source changes do not refetch them.
COPY Package.swift ./
RUN swift package resolve
COPY . .
# The Swift runtime is linked statically; the runtime image needs no Swift toolchain.
RUN swift build -c release --static-swift-stdlib --product ha-sync \
 && swift build -c release --static-swift-stdlib --product ha-sync-ui \
 && install -D -m 0755 .build/release/ha-sync /out/ha-sync \
 && install -D -m 0755 .build/release/ha-sync-ui /out/ha-sync-ui \
 && for binary in ha-sync ha-sync-ui; do \
      objcopy --only-keep-debug /out/$binary /out/$binary.debug \
      && strip --strip-debug --strip-unneeded /out/$binary \
      && objcopy --add-gnu-debuglink=/out/$binary.debug /out/$binary || exit 1; \
    done
# The debug info stays in the build stage (/out/*.debug): copy it out with
#   docker build --target build -o type=local,dest=debug .

FROM debian:bookworm-slim
# libmariadb3: the MySQL audit store loads MariaDB Connector/C at run time.
# ca-certificates: TLS to MySQL. tzdata: readable local times in logs of tools run alongside.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 ha-sync \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ha-sync
COPY --from=build /out/ha-sync /out/ha-sync-ui /usr/local/bin/
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/ha-sync"]
