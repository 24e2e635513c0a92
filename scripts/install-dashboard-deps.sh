#!/usr/bin/env bash
# Installs what the dashboard's browser test (tests/dashboard/) needs: Debian's Chromium and the
# npm packages of tests/dashboard/package-lock.json (playwright-core only; it never downloads a
# browser of its own). Idempotent: does nothing when both are in place.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTS="$ROOT/tests/dashboard"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
updated=0

apt_install() {
  if [ "$updated" -eq 0 ]; then
    $SUDO apt-get update
    updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "$@"
}

if [ ! -x /usr/bin/chromium ]; then
  echo "install-dashboard-deps: installing Debian's chromium"
  apt_install chromium
fi

if ! command -v node >/dev/null 2>&1; then
  echo "install-dashboard-deps: installing nodejs"
  apt_install nodejs
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "install-dashboard-deps: installing npm"
  apt_install npm
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "install-dashboard-deps: Node.js $(node --version) is too old: the dashboard tests need 20 or newer" >&2
  exit 1
fi

# npm ci when playwright-core is missing or older than the lockfile.
installed="$TESTS/node_modules/playwright-core/package.json"
if [ ! -f "$installed" ] || [ "$TESTS/package-lock.json" -nt "$installed" ]; then
  echo "install-dashboard-deps: npm ci in tests/dashboard"
  (cd "$TESTS" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  touch "$installed"
fi
