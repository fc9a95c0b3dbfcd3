"""The ``tinyorm`` command line."""
from __future__ import annotations

import argparse
import os
import sys

from . import __version__
from .exceptions import TinyORMError


def build_parser():
    parser = argparse.ArgumentParser(prog="tinyorm", description="tinyorm command line")
    parser.add_argument("--version", action="version", version=f"tinyorm {__version__}")
    parser.add_argument("--database", help="database URL (default: $TINYORM_DATABASE_URL)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser("check", help="connect to the database and report the server")
    check.set_defaults(handler=_check)
    return parser


def _check(args):
    import tinyorm

    url = args.database or os.environ.get("TINYORM_DATABASE_URL")
    if not url:
        raise TinyORMError("no database: pass --database URL or set TINYORM_DATABASE_URL")
    database = tinyorm.connect(url)
    database.execute_sql("SELECT 1").fetchall()
    print(f"ok: {database.dialect.name} {database.database}")
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args) or 0
    except TinyORMError as exc:
        print(f"tinyorm: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
