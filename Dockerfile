# syntax=docker/dockerfile:1
#
# IronLB's image: one `ironlb` binary (controller and speaker are its subcommands), built in
# release mode with the Swift standard library, FoundationEssentials and libyaml linked statically
# and without the lab (`--disable-default-traits`, as scripts/build-release), on a minimal
# Debian runtime, running as the unprivileged user 65532.
#
#   docker build -t registry.example/ironlb:0.1.0 .
#
# The manifests and the chart name ghcr.io/ironlb/ironlb:0.1.0, a placeholder until images are
# published. The speaker's pod overrides the user with UID 0 and keeps only NET_RAW
# (docs/design/install-artifacts.md says why).

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
WORKDIR /src
# libyaml (the YAML target's C library), linked statically: the runtime stage needs no libyaml-0-2.
RUN apt-get update && apt-get install -y --no-install-recommends libyaml-dev && rm -rf /var/lib/apt/lists/*
# Dependencies first: a change to the sources reuses the resolved packages.
COPY Package.swift ./
RUN swift package resolve
COPY . .
# The flags of scripts/build-release: no lab and no KubeSim in the image (docs/design/lean-binary.md).
RUN swift build -c release --static-swift-stdlib --product ironlb --disable-default-traits \
 && install -D -s -m 0755 "$(swift build -c release --static-swift-stdlib --product ironlb --disable-default-traits --show-bin-path)/ironlb" /out/ironlb \
 && /out/ironlb --version

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="IronLB" \
      org.opencontainers.image.description="A bare-metal load balancer for Kubernetes Services of type LoadBalancer"
COPY --from=build /out/ironlb /usr/local/bin/ironlb
# The runtime image has the C libraries the binary links to (glibc, libstdc++, libgcc): prove it.
RUN ["/usr/local/bin/ironlb", "--version"]
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ironlb"]
CMD ["--help"]
