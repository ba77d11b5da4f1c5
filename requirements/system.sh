#!/usr/bin/env bash
# The system packages `make test` needs besides the Python lock (Debian names): redis-server (the real Redis the
# gateway tests run), chromium (Debian's /usr/bin/chromium, which Playwright drives for the browser tests; no
# browser download) and a headless Java runtime (PySpark's tests). Idempotent: installs only what is missing, with
# apt-get when run as root (or with password-less sudo); otherwise prints one line saying what to install, exit 1.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "make: the tests need these system packages (Debian names), please install them: ${need[*]}" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "make: the tests need system packages; run: sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "make: installing system packages: ${need[*]}"
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
