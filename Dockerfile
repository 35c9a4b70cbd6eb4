# The rendezvous server as a container image: the release binary on a slim base, run as a
# non-root user, UDP 57775 (rendezvous + STUN) and 57776 (STUN alternate port) and TCP 9775
# (metrics, /healthz, /readyz) exposed, with a HEALTHCHECK on /healthz by the binary itself
# (`rabid-hole-punch healthcheck`: a slim image has no curl).
#
#   cargo build --release -p rabid-hole-punch
#   docker build -t rabid-hole-punch .
#   docker run -d -p 57775:57775/udp -p 57776:57776/udp -p 127.0.0.1:9775:9775 rabid-hole-punch
#
# The binary is copied, not built here: build it on the distribution the base image is (glibc),
# e.g. Debian 12 for the default base. BASE may be any image with glibc (distroless/cc works too:
# nothing is run at build time).
ARG BASE=debian:bookworm-slim
FROM ${BASE}

ARG BINARY=target/release/rabid-hole-punch
COPY ${BINARY} /usr/local/bin/rabid-hole-punch

# A numeric user, so the base needs no useradd (and no RUN step at all).
USER 10001:10001
WORKDIR /tmp

EXPOSE 57775/udp 57776/udp 9775/tcp
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/rabid-hole-punch", "healthcheck", "--addr", "127.0.0.1:9775"]

ENTRYPOINT ["/usr/local/bin/rabid-hole-punch"]
# Logs go to stderr (docker logs); metrics listen on every interface of the container, so a
# published port reaches them (publish it on the host's loopback, as above).
CMD ["serve", "--no-log-file", "--metrics", "0.0.0.0:9775"]
