# Sourced by app.sh and test.sh: create .venv (Python 3.11+) and install a requirements
# file into it, skipping pip when that file has not changed since the last install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

requirements="$1"
venv="${BNVIZ_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python=""
  for candidate in python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python="$candidate"; break
    fi
  done
  [ -n "$python" ] || { echo "bnviz needs Python 3.11 or newer" >&2; exit 1; }
  "$python" -m venv "$venv"
fi
stamp="$venv/.installed-$(basename "$requirements")"
digest=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r "$requirements"
  echo "$digest" > "$stamp"
fi
export PATH="$(cd "$venv" && pwd)/bin:$PATH"  # BNVIZ_VENV may be relative or absolute
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
