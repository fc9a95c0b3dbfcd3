#!/usr/bin/env bash
# Build tinyorm and install it as a user would, in throwaway virtualenvs under a temporary
# folder (needs the package index; not part of `make test`):
#   - `python -m build` makes an sdist and a wheel; the wheel ships py.typed and LICENSE;
#   - `pip install <wheel>` installs no driver; SQLite works; a server URL names its extra;
#   - `pip install <wheel>[postgresql]` brings psycopg2; on Python 3.10 tomli comes too;
#   - with peewee installed into the same environment, importing tinyorm's playhouse fails
#     with the ImportError docs/install.md describes, and uninstalling peewee deletes our files.
# Usage: bash scripts/check_packaging.sh [PYTHON]   (default python3; try python3.10 too)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
WORK="$(mktemp -d /tmp/tinyorm-packaging.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
say() { printf '== %s\n' "$*"; }

say "build (sdist + wheel) from a clean copy"
mkdir -p "$WORK/src" && (git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$WORK/src")
"$PY" -m venv "$WORK/build-venv"
"$WORK/build-venv/bin/pip" install -q build
(cd "$WORK/src" && "$WORK/build-venv/bin/python" -m build --outdir "$WORK/dist" >/dev/null 2>&1)
WHEEL="$(ls "$WORK"/dist/*.whl)"
cd "$WORK"  # not the checkout: `python -c` puts the current folder first on sys.path
"$PY" -m zipfile -l "$WHEEL" | grep -q "tinyorm/py.typed" || { echo "py.typed missing from the wheel"; exit 1; }
"$PY" -m zipfile -l "$WHEEL" | grep -q "licenses/LICENSE" || { echo "LICENSE missing from the wheel"; exit 1; }

say "pip install <wheel>: no driver"
"$PY" -m venv "$WORK/plain"
"$WORK/plain/bin/pip" install -q "$WHEEL"
if "$WORK/plain/bin/pip" list 2>/dev/null | grep -iE "psycopg|pymysql"; then echo "a driver was installed"; exit 1; fi
"$WORK/plain/bin/python" - <<'PY'
import tinyorm
assert tinyorm.connect("sqlite:///:memory:").execute_sql("SELECT 1").fetchone() == (1,)
for url, extra in (("postgresql://u@127.0.0.1/x", "tinyorm[postgresql]"), ("mysql://u@127.0.0.1/x", "tinyorm[mysql]")):
    try:
        tinyorm.connect(url)
    except tinyorm.ImproperlyConfigured as exc:
        assert extra in str(exc), exc
    else:
        raise AssertionError("connected without a driver")
print("sqlite works; missing drivers name their extra")
PY

say "pip install <wheel>[postgresql]"
"$PY" -m venv "$WORK/pg"
"$WORK/pg/bin/pip" install -q "$WHEEL[postgresql]"
"$WORK/pg/bin/python" -c "import psycopg2, tinyorm; tinyorm.connect('postgresql://u@127.0.0.1/x'); print('psycopg2', psycopg2.__version__)"
"$WORK/pg/bin/python" -c "import sys; sys.version_info < (3, 11) and __import__('tomli'); print('toml reader ok')"

say "peewee installed after tinyorm in one environment"
"$WORK/plain/bin/pip" install -q peewee
if "$WORK/plain/bin/python" -c "import playhouse.cache" 2>"$WORK/err"; then echo "no error"; exit 1; fi
tail -1 "$WORK/err"
"$WORK/plain/bin/pip" uninstall -q -y peewee
SITE="$("$WORK/plain/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
for gone in __init__.py shortcuts.py signals.py; do
  [ ! -e "$SITE/playhouse/$gone" ] || { echo "expected uninstalling peewee to delete playhouse/$gone"; exit 1; }
done
echo "uninstalling peewee deleted tinyorm's playhouse/__init__.py, shortcuts.py, signals.py, ..."
say "ok"
