#!/bin/sh
# Build the one-folder app with PyInstaller (not part of CI).
#   packaging/build_app.sh [PYTHON]      PYTHON: an interpreter with the workbench and pyinstaller installed
#                                         (default: .venv/bin/python of this checkout)
# Output: build/app/dist/workbench/ (run build/app/dist/workbench/workbench --help). Takes minutes.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY="${1:-$ROOT/.venv/bin/python}"
"$PY" -c "import PyInstaller" 2>/dev/null || {
    echo "build_app.sh: PyInstaller is not installed for $PY: $PY -m pip install 'pyinstaller>=6.10'" >&2; exit 1; }
OUT="$ROOT/build/app"
mkdir -p "$OUT"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$OUT/dist" --workpath "$OUT/work" "$ROOT/packaging/pyinstaller/workbench.spec"
APP="$OUT/dist/workbench"
echo "build_app.sh: built $APP ($(du -sh "$APP" | cut -f1))"
QT_QPA_PLATFORM=offscreen "$APP/workbench" --version
