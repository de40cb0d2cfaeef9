#!/bin/sh
# Install @NAME@ @VERSION@ from this bundle into a new virtual environment, with no package index.
#   ./install.sh VENV [--python PY]     verify SHA256SUMS, create VENV, install from wheels/ only
#   ./install.sh --check                only verify the bundle
set -eu

BUNDLE=$(cd "$(dirname "$0")" && pwd)
PYVER="@PYTHON@"
VENV=""
PY="${PYTHON:-}"
CHECK_ONLY=0

fail() { echo "install.sh: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --check) CHECK_ONLY=1 ;;
        --python) [ $# -ge 2 ] || fail "--python needs an interpreter"; PY="$2"; shift ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        -*) fail "unknown option $1" ;;
        *) [ -z "$VENV" ] || fail "one VENV only"; VENV="$1" ;;
    esac
    shift
done
[ "$CHECK_ONLY" = 1 ] || [ -n "$VENV" ] || fail "usage: install.sh VENV [--python PY] | install.sh --check"

if command -v sha256sum >/dev/null 2>&1; then
    sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
    sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
    fail "neither sha256sum nor shasum is installed: cannot verify the wheels"
fi

# 1. Every listed wheel is there and unchanged, and nothing unlisted is in wheels/ (pip would see it).
cd "$BUNDLE"
[ -f SHA256SUMS ] || fail "$BUNDLE/SHA256SUMS is missing: the bundle cannot be verified"
bad=0
listed=0
while read -r sum path; do
    [ -n "$sum" ] || continue
    listed=$((listed + 1))
    case "$path" in wheels/*.whl) ;; *) echo "install.sh: SHA256SUMS names $path, which is not a wheel in wheels/" >&2; bad=1; continue ;; esac
    if [ ! -f "$path" ]; then
        echo "install.sh: MISSING: $path is listed in SHA256SUMS but not in the bundle" >&2; bad=1; continue
    fi
    actual=$(sha256 "$path")
    if [ "$actual" != "$sum" ]; then
        echo "install.sh: ALTERED: $path has SHA-256 $actual, SHA256SUMS says $sum" >&2; bad=1
    fi
done < SHA256SUMS
for f in wheels/*; do
    [ -e "$f" ] || continue
    grep -q "  $f\$" SHA256SUMS || { echo "install.sh: UNLISTED: $f is not in SHA256SUMS" >&2; bad=1; }
done
[ "$listed" -gt 0 ] || fail "SHA256SUMS lists no wheels"
[ "$bad" = 0 ] || fail "the bundle failed verification; nothing was installed. Get a fresh copy of the bundle."
echo "install.sh: $listed wheels verified against SHA256SUMS"
[ "$CHECK_ONLY" = 0 ] || exit 0

# 2. An interpreter of the Python the wheels were built for.
if [ -z "$PY" ]; then
    for cand in "python$PYVER" python3 python; do
        if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
    done
fi
[ -n "$PY" ] || fail "no Python found; install Python $PYVER or pass --python PY"
have=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || fail "$PY does not run"
[ "$have" = "$PYVER" ] || fail "$PY is Python $have; this bundle is for Python $PYVER (pass --python PY)"

# 3. The venv, then pip with no index: config files and PIP_* variables are ignored so none can add one.
if [ -e "$VENV" ] && [ ! -f "$VENV/pyvenv.cfg" ] && [ -n "$(ls -A "$VENV" 2>/dev/null)" ]; then
    fail "$VENV exists and is not a virtual environment; choose a new folder"
fi
"$PY" -m venv "$VENV" || fail "could not create the virtual environment $VENV"
PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip install --isolated --no-index \
    --find-links "$BUNDLE/wheels" --only-binary=:all: --disable-pip-version-check \
    "@NAME@==@VERSION@" || fail "pip could not install from $BUNDLE/wheels (see above)"
"$VENV/bin/workbench" --version || fail "installed, but $VENV/bin/workbench does not start"
echo "install.sh: installed into $VENV. Start it with $VENV/bin/workbench"
