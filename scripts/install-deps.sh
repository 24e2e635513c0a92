#!/usr/bin/env bash
# Installs every Debian package Sluice needs. Idempotent: does nothing when all are present.
set -euo pipefail
PKGS=(g++ cmake ninja-build ccache pkg-config make
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
      librocksdb-dev zlib1g-dev libabsl-dev libspdlog-dev libyaml-cpp-dev
      libgtest-dev libgmock-dev libbenchmark-dev libssl-dev nlohmann-json3-dev
      libcpp-httplib-dev curl prometheus
      libcurl4-openssl-dev libtinyxml2-dev    # S3 snapshot storage
      python3-swift swift-proxy swift-object swift-container swift-account awscli  # its test server and benchmark baseline
      libpqxx-dev libpq-dev postgresql  # the PostgreSQL sink, and the server its tests start
      libsnappy-dev                     # Prometheus remote write
      librdkafka-dev kcat               # Kafka (tests: librdkafka's mock cluster)
      libjemalloc2 libmimalloc2.0)  # allocators the soak test compares (make soak)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
# The dashboard's browser test: Debian's Chromium and playwright-core from the lockfile.
"$(dirname "${BASH_SOURCE[0]}")/install-dashboard-deps.sh"
