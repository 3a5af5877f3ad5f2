#!/usr/bin/env bash
# Installs what building and testing need, skipping whatever is already there
# at the right version. Safe to run again and again.
#
#   scripts/setup.sh          Rust wasm target, Trunk, wasm-bindgen, wasm-opt,
#                             aiosmtpd (python3; the tests' SMTP server)
#   scripts/setup.sh --e2e    the same, plus Chromium and the e2e test packages
#   scripts/setup.sh --postgres   the same, plus Debian's PostgreSQL server (the
#                             server tests' throwaway cluster, scripts/with-postgres.sh)
#   (--e2e and --postgres combine)
#
# Versions are pinned because they must agree with each other (see
# ../shared/TOOLCHAIN.md): trunk 0.22 needs a newer rustc than the machine's,
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock, and only
# binaryen 116's wasm-opt produces output that runs in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

e2e=false
postgres=false
for arg in "$@"; do
  case "$arg" in
    --e2e) e2e=true ;;
    --postgres) postgres=true ;;
    *) echo "usage: scripts/setup.sh [--e2e] [--postgres]" >&2; exit 2 ;;
  esac
done

TRUNK_VERSION=0.21.14
WASM_OPT_VERSION=0.116.1
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }
have_version() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for component in clippy rustfmt; do
  if ! rustup component list --installed | grep -q "^$component"; then
    step "adding $component"
    rustup component add "$component"
  fi
done

if ! have_version trunk "$TRUNK_VERSION"; then
  step "installing trunk $TRUNK_VERSION (about 7 minutes)"
  cargo install --locked "trunk@$TRUNK_VERSION"
fi
if ! have_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)"
  # --locked fails here: the registry lacks one of its locked dependencies.
  cargo install "wasm-bindgen-cli@$WASM_BINDGEN_VERSION"
fi
if ! have_version wasm-opt "version 116"; then
  step "installing wasm-opt $WASM_OPT_VERSION (binaryen 116, about 6 minutes)"
  cargo install "wasm-opt@$WASM_OPT_VERSION"
fi

# The tests' SMTP server (tests/smtp/sink.py), used by the Rust integration
# tests and the e2e tests alike. Into the interpreter's own site-packages if
# pip may write there (pyenv, a virtualenv), else into the user's; the last
# resort overrides Debian's "externally managed environment" for the user's
# site-packages only, which leaves the system's packages alone. Only the last
# attempt's errors are shown.
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  step "installing aiosmtpd for python3 (the tests' SMTP server)"
  python3 -m pip install --quiet aiosmtpd 2>/dev/null \
    || python3 -m pip install --quiet --user aiosmtpd 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages aiosmtpd
  python3 -c 'import aiosmtpd'
fi

# The server binaries only (initdb, pg_ctl): scripts/with-postgres.sh makes
# its own cluster in a temporary directory and uses no running service.
if $postgres && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  step "installing postgresql from Debian (the server tests' throwaway cluster)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
fi

if $e2e; then
  apt_packages=()
  [ -x /usr/bin/chromium ] || apt_packages+=(chromium)
  command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || apt_packages+=(npm)
  if [ ${#apt_packages[@]} -gt 0 ]; then
    step "installing ${apt_packages[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}"
  fi
  if [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]; then
    step "installing the e2e test packages"
    (cd tests/e2e && npm ci --no-audit --no-fund)
  fi
fi
