#!/usr/bin/env bash
# Run the tests: set up .venv with the test tools, make sure Debian's chromium is there for
# the browser tests (installing it with apt when run as root), lint, then pytest.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" requirements-dev.txt
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
ruff check .
exec python -m pytest "$@"
