# syntax=docker/dockerfile:1
#
# IronLB's image: one `ironlb` binary (controller and speaker are its subcommands), built in
# release mode with the Swift standard library, FoundationEssentials and libyaml linked statically
# and without the lab (scripts/build-release: `--disable-default-traits`, size-optimised with
# whole-program LTO), on nothing but the C/C++ runtime files it links to, running as the
# unprivileged user 65532.
#
#   docker build -t registry.example/ironlb:0.1.0 .
#
# Without a registry, scripts/build-image builds the same image offline (buildah, no base image
# pulled). Both run scripts/build-release (the production build flags) and scripts/image-rootfs
# (the image's files, checked against scripts/image-files.txt), so both hold the same files;
# see docs/design/image.md. The manifests and the chart name ghcr.io/ironlb/ironlb:0.1.0. The
# speaker's pod overrides the user with UID 0 and keeps only NET_RAW
# (docs/design/install-artifacts.md says why).

ARG SWIFT_IMAGE=swift:6.3-bookworm

FROM ${SWIFT_IMAGE} AS build
WORKDIR /src
# libyaml (the YAML target's C library), linked statically: the runtime stage needs no libyaml-0-2.
RUN apt-get update && apt-get install -y --no-install-recommends libyaml-dev && rm -rf /var/lib/apt/lists/*
# Dependencies first: a change to the sources reuses the resolved packages (in the scratch
# directory scripts/build-release builds in).
COPY Package.swift ./
RUN swift package --scratch-path .build-release resolve
COPY . .
RUN scripts/image-rootfs "$(scripts/build-release | tail -n1)" /rootfs

FROM scratch
COPY --from=build /rootfs/ /
# The image holds what the binary needs to start (loader, glibc, libstdc++, libgcc, zlib): prove it.
RUN ["/usr/local/bin/ironlb", "--version"]
LABEL org.opencontainers.image.title="IronLB" \
      org.opencontainers.image.description="A bare-metal load balancer for Kubernetes Services of type LoadBalancer" \
      org.opencontainers.image.licenses="NOASSERTION"
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ironlb"]
CMD ["--help"]
