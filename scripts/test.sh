#!/usr/bin/env bash
# Run the tests: set up .venv with the test tools, make sure Debian's chromium (for the
# browser tests) and dataset-fashion-mnist (the full files, which the data tests compare with
# the bundled sample) are there, installing them with apt when run as root, lint, then pytest.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh" requirements-dev.txt
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's ${missing[*]} for the tests" >&2
  apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
ruff check .
exec python -m pytest "$@"
