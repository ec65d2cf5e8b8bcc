#!/usr/bin/env bash
# Installs what the browser tests (tests/test_browser.py) need on a fresh machine:
# Debian's chromium (Playwright's own browser download is impossible on our machines, so the
# tests drive the system browser through playwright-core), fonts for the screenshots, and the
# pinned npm packages. .ci/run calls this before `make test`; a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")"

# fonts-noto-color-emoji: the course prints ✅ and the like; without it the screenshots show
# empty boxes. fonts-dejavu-core: JupyterLab's monospace fallback.
PACKAGES="chromium fonts-noto-color-emoji fonts-dejavu-core"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ ! -x /usr/bin/chromium ] || [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    # --no-install-recommends: the recommended packages pull in a desktop's worth of extras
    # that headless use never touches.
    $SUDO apt-get install -y -q --no-install-recommends $missing
fi
/usr/bin/chromium --version 2>/dev/null

# npm ci installs exactly package-lock.json; playwright-core, unlike the `playwright`
# package, has no postinstall step that downloads a browser. Skipped when the locked version
# is already the installed one.
if ! node -e '
  const want = require("./package-lock.json").packages["node_modules/playwright-core"].version;
  const have = require("./node_modules/playwright-core/package.json").version;
  process.exit(want === have ? 0 : 1);' 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
fi
