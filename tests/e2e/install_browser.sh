#!/usr/bin/env bash
# Install Debian's chromium for the browser test (tests/e2e), quietly and non-interactively.
# Called by .ci/run. Does nothing when /usr/bin/chromium is already there. Needs root (or sudo).
# Playwright drives this browser through executable_path; never `playwright install`.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install_browser.sh: /usr/bin/chromium is missing and this is not root; the browser test will not run" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq chromium >/dev/null
test -x /usr/bin/chromium
echo "install_browser.sh: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)"
