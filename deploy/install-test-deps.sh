#!/usr/bin/env bash
# Install what the course hub and tests/test_jupyterhub.py need. Idempotent, and quick when
# everything is already there (about a second):
#   - jupyterhub and playwright (PyPI), into the kit's Python;
#   - configurable-http-proxy (npm), into deploy/node_modules (never committed);
#   - Debian's chromium, for the screenshot check (Playwright drives it; no `playwright install`).
# Python: $PYTHON, else the repo's .venv/bin/python, else python3.
set -euo pipefail

DEPLOY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$DEPLOY")"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PY="$REPO/.venv/bin/python"; else PY="$(command -v python3)"; fi
fi

JUPYTERHUB_VERSION="6.1.1"
PLAYWRIGHT_VERSION="1.65.2"

# 1. Python packages
if ! "$PY" - "$JUPYTERHUB_VERSION" "$PLAYWRIGHT_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("jupyterhub"), version("playwright")) == tuple(sys.argv[1:3]) else 1)
EOF
then
  echo "install-test-deps: pip install jupyterhub==$JUPYTERHUB_VERSION playwright==$PLAYWRIGHT_VERSION"
  "$PY" -m pip install --quiet "jupyterhub==$JUPYTERHUB_VERSION" "playwright==$PLAYWRIGHT_VERSION"
fi

# 2. The proxy, pinned by deploy/package.json and deploy/package-lock.json
CHP="$DEPLOY/node_modules/.bin/configurable-http-proxy"
want="$(sed -n 's/.*"configurable-http-proxy": *"\([^"]*\)".*/\1/p' "$DEPLOY/package.json" | head -n1)"
have="$([ -x "$CHP" ] && "$CHP" --version 2>/dev/null || true)"
if [ "$have" != "$want" ]; then
  command -v npm >/dev/null || { echo "install-test-deps: npm is missing (apt-get install -y nodejs npm)" >&2; exit 1; }
  echo "install-test-deps: npm install configurable-http-proxy@$want into $DEPLOY/node_modules"
  # package-lock.json pins every package of the proxy; npm install follows it.
  npm install --prefix "$DEPLOY" --no-audit --no-fund --loglevel=error
  "$CHP" --version >/dev/null
fi

# 3. The browser
if [ ! -x /usr/bin/chromium ]; then
  echo "install-test-deps: apt-get install chromium"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation2 >/dev/null
fi

echo "install-test-deps: jupyterhub $("$PY" -c 'import jupyterhub; print(jupyterhub.__version__)')," \
     "playwright $("$PY" -c 'from importlib.metadata import version; print(version("playwright"))')," \
     "configurable-http-proxy $("$CHP" --version), $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
