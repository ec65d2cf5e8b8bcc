#!/usr/bin/env bash
# Installs what the browser tests (tests/test_browser.py) need on a fresh machine:
# Debian's chromium (Playwright's own browser download is impossible on our machines, so the
# tests drive the system browser through playwright-core) and the pinned npm packages.
# .ci/run calls this before `make test`; running it twice does nothing new.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    # --no-install-recommends: the recommended packages pull in a desktop's worth of extras
    # that headless use never touches.
    $SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi
/usr/bin/chromium --version

# npm ci installs exactly package-lock.json; playwright-core has no postinstall browser
# download (unlike the `playwright` package), so this works offline from the registry alone.
if [ ! -d node_modules/playwright-core ] || ! cmp -s package-lock.json node_modules/.package-lock.json 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
fi
