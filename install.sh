#!/usr/bin/env bash
# Installs a released rollgate binary: the one for this OS and CPU, of the release tagged
# ROLLGATE_VERSION, verified against the release's SHA256SUMS before anything is unpacked.
# `action.yml` runs it; it also works outside Actions:
#
#   ROLLGATE_VERSION=v0.1.0 ROLLGATE_INSTALL_DIR="$HOME/.local/bin" bash install.sh
#
# ROLLGATE_VERSION    a release tag (vMAJOR.MINOR.PATCH). Anything else (a branch such as
#                     `main`, a commit) has no release: the script says `how=build` and the
#                     action builds from source instead.
# ROLLGATE_INSTALL_DIR  where the binary goes (created when missing).
# ROLLGATE_RELEASES   where releases are downloaded from, one directory per tag
#                     [default: $GITHUB_SERVER_URL/$ROLLGATE_REPOSITORY/releases/download].
# ROLLGATE_REPOSITORY owner/name [default: rollgate/rollgate].
# RUNNER_OS, RUNNER_ARCH  as Actions sets them; `uname` otherwise.
#
# In Actions it appends the install directory to GITHUB_PATH and `how=download|build` to
# GITHUB_OUTPUT. Exits 1, installing nothing, when the download fails or the checksum differs.
set -euo pipefail

say() { echo "rollgate install: $*" >&2; }
fail() {
  # An annotation in Actions, plain text elsewhere.
  if [ -n "${GITHUB_ACTIONS:-}" ]; then echo "::error title=rollgate install::$*"; fi
  say "$*"
  exit 1
}
output() { if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1" >>"$GITHUB_OUTPUT"; fi; }

version="${ROLLGATE_VERSION:-}"
if ! [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  say "\`${version:-(no ref)}\` is not a release tag, so there is no released binary for it: building from source"
  output "how=build"
  exit 0
fi

os="${RUNNER_OS:-$(uname -s)}"
arch="${RUNNER_ARCH:-$(uname -m)}"
case "$os/$arch" in
  Linux/X64 | Linux/x86_64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64 | Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
  macOS/X64 | Darwin/x86_64) target=x86_64-apple-darwin ;;
  macOS/ARM64 | Darwin/arm64) target=aarch64-apple-darwin ;;
  *) fail "no rollgate binary is released for $os/$arch; releases cover Linux and macOS on x86_64 and arm64 (use such a runner, or build with \`cargo install --locked --git https://github.com/${ROLLGATE_REPOSITORY:-rollgate/rollgate} --tag $version\`)" ;;
esac

repository="${ROLLGATE_REPOSITORY:-rollgate/rollgate}"
releases="${ROLLGATE_RELEASES:-${GITHUB_SERVER_URL:-https://github.com}/$repository/releases/download}"
asset="rollgate-$target.tar.gz"
dir="${ROLLGATE_INSTALL_DIR:?set ROLLGATE_INSTALL_DIR to where the binary goes}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fetch() {
  curl --fail --silent --show-error --location --retry 3 --retry-delay 2 \
    --output "$work/$1" "$releases/$version/$1" ||
    fail "cannot download $releases/$version/$1 (is $version released for $target?)"
}
fetch "$asset"
fetch SHA256SUMS

expected="$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$work/SHA256SUMS")"
[ -n "$expected" ] || fail "SHA256SUMS of $version has no line for $asset"
if command -v sha256sum >/dev/null; then
  actual="$(sha256sum "$work/$asset" | cut -d' ' -f1)"
else
  actual="$(shasum -a 256 "$work/$asset" | cut -d' ' -f1)"
fi
[ "$actual" = "$expected" ] ||
  fail "$asset of $version does not match its checksum (SHA256SUMS says $expected, the download is $actual): refused, nothing installed"

mkdir -p "$work/unpacked"
tar -xzf "$work/$asset" -C "$work/unpacked"
[ -f "$work/unpacked/rollgate" ] || fail "$asset holds no \`rollgate\` binary"
said="$("$work/unpacked/rollgate" --version 2>&1)" ||
  fail "the downloaded rollgate does not run on this machine: $said"
[ "$said" = "rollgate ${version#v}" ] ||
  fail "$asset of $version says it is \`$said\`: refused, nothing installed"

mkdir -p "$dir"
install -m 0755 "$work/unpacked/rollgate" "$dir/rollgate"
if [ -n "${GITHUB_PATH:-}" ]; then echo "$dir" >>"$GITHUB_PATH"; fi
output "how=download"
say "installed $said for $target in $dir (SHA-256 $actual, as $version's SHA256SUMS says)"
