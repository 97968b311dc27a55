#!/usr/bin/env bash
# Check that every package named in packages.txt exists in Debian 11 ("bullseye"), the
# release Community Cloud installs packages.txt from. Uses apt with a private state
# directory, so the machine's own package lists are left alone; needs Debian's archive.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suite="${1:-bullseye}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/state/lists/partial" "$work/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
  > "$work/sources.list"
apt_options=(-o "Dir::State=$work/state" -o "Dir::Cache=$work/cache"
             -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
             -o "Dir::State::status=/dev/null" -o "APT::Architecture=amd64")
apt-get "${apt_options[@]}" -qq update
missing=0
while read -r package _; do
  case "$package" in ''|'#'*) continue ;; esac
  version="$(apt-cache "${apt_options[@]}" show --no-all-versions "$package" 2>/dev/null \
             | sed -n 's/^Version: //p' | head -n 1)"
  if [ -n "$version" ]; then
    echo "ok      $package $version (Debian $suite)"
  else
    echo "MISSING $package: not in Debian $suite"
    missing=1
  fi
done < "$here/packages.txt"
exit "$missing"
