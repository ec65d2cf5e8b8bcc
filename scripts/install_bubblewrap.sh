#!/usr/bin/env bash
# Installs bubblewrap (bwrap), the sandbox course-grade seals each submission in
# (course_utils/grading/sandbox.py). `make grade` and .ci/run call it; a second run installs nothing.
# Only Debian and Ubuntu are installed automatically; elsewhere it says what to run.
#   --no-sudo   (`make setup`) install only where no password is needed (root: containers, CI);
#               elsewhere say in one line that `make grade` will. Learners never grade, so
#               setting up the course must not stop to ask them for one.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
    exit 0
fi
if [ "${1:-}" = --no-sudo ] && [ "$(id -u)" != 0 ]; then
    echo "bubblewrap is not installed: course-grade needs it to grade submissions; make grade installs it (with sudo)" >&2
    exit 0
fi
if [ "$(uname -s)" != Linux ]; then
    echo "bubblewrap is Linux-only: on $(uname -s), grade in the container of docs/INSTRUCTORS.md" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install bubblewrap with your package manager (Fedora: sudo dnf install bubblewrap)" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Update the package lists only when the first try cannot find the package (a fresh machine).
$SUDO apt-get install -y -q --no-install-recommends bubblewrap >/dev/null 2>&1 || {
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends bubblewrap
}
bwrap --version
