#!/usr/bin/env bash
# Install the system packages the test suite drives for real, if they are missing:
# Debian's PostgreSQL (started by postgres.sh), Java 17 and Maven (Kafka's jars, kafka.sh),
# headless Chromium (the HTML report test and the web pages, driven by Playwright with
# executable_path: no browser is ever downloaded) and docker-compose 1.29 (validates the compose
# file without a Docker engine). Idempotent: a machine that has them installs nothing.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)

if [ ${#need[@]} -eq 0 ]; then
  echo "test-deps: all system packages present" >&2
  exit 0
fi

echo "test-deps: installing ${need[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
