#!/usr/bin/env bash
# The webhook ingest benchmark loads the server with wrk, from Debian's package.
set -euo pipefail
if command -v wrk >/dev/null; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's wrk for the benchmarks..."
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
  exit 0
fi
echo "The webhook benchmark needs wrk:  sudo apt-get install -y wrk" >&2
exit 1
