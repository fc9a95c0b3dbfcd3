"""What installing tinyorm promises, checked without a network: the metadata in
pyproject.toml, one version, drivers as extras with an error naming the extra when one is
missing, pyproject.toml settings read by a real TOML parser, and the refusal to load
tinyorm's ``playhouse`` where peewee's package of the same name took its place.

(Building the wheel and installing it in fresh virtualenvs, which needs the package index,
is ``scripts/check_packaging.sh``.)
"""

import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

import tinyorm
from tinyorm.cli import _read_pyproject

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _python(code, path=None):
    # run from a folder holding nothing: the current directory comes first on sys.path
    cwd = pathlib.Path(path.split(":")[0]).parent if path else ROOT / "tests"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(path or ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_sqlite_users_install_no_driver():
    project = PROJECT["project"]
    dependencies = " ".join(project["dependencies"]).lower()
    assert "psycopg" not in dependencies and "pymysql" not in dependencies
    extras = project["optional-dependencies"]
    assert extras["postgresql"] == ["psycopg2-binary>=2.9"]
    assert extras["mysql"] == ["pymysql>=1.0"]
    assert set(extras["postgresql"] + extras["mysql"] + extras["redis"] + extras["flask"]) <= set(extras["all"])
    assert {"pytest>=7", "psycopg2-binary>=2.9", "pymysql>=1.0", "redis>=4"} <= set(extras["test"])
    assert project["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert {"Homepage", "Source", "Issues"} <= set(project["urls"])


def test_one_version_source():
    assert PROJECT["project"]["dynamic"] == ["version"]
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tinyorm._version.__version__"}
    from tinyorm._version import __version__

    assert tinyorm.__version__ == __version__
    assert "version" not in (ROOT / "setup.py").read_text(encoding="utf-8").split('"""')[-1]
    assert PROJECT["tool"]["setuptools"]["package-data"]["tinyorm"] == ["py.typed"]
    assert (ROOT / "tinyorm" / "py.typed").exists()


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [
        ("psycopg2", "postgresql://u:pw@127.0.0.1/app", "tinyorm[postgresql]"),
        ("pymysql", "mysql://u@h/app", "tinyorm[mysql]"),
    ],
)
def test_missing_driver_names_its_extra(module, url, extra):
    # sys.modules[name] = None makes `import name` fail as if the package were not installed
    result = _python(
        f"""
        import sys
        sys.modules[{module!r}] = None
        import tinyorm
        sqlite = tinyorm.connect("sqlite:///:memory:")
        assert sqlite.execute_sql("SELECT 1").fetchone() == (1,)
        try:
            tinyorm.connect({url!r})
        except tinyorm.ImproperlyConfigured as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert f"pip install '{extra}'" in result.stdout
    assert "pw" not in result.stdout


def test_pyproject_settings_read_by_a_toml_parser(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "app"  # a comment

            [tool.tinyorm]
            database = "sqlite:///data#1.db"  # the '#' belongs to the value
            models = 'app.models'
            migrations = \"\"\"db/migrations\"\"\"
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "sub").mkdir()
    settings, root = _read_pyproject(tmp_path / "sub")
    assert settings == {"database": "sqlite:///data#1.db", "models": "app.models", "migrations": "db/migrations"}
    assert root == str(tmp_path)


def test_malformed_pyproject_is_a_clear_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.tinyorm]\ndatabase = "unterminated\n', encoding="utf-8")
    with pytest.raises(tinyorm.TinyORMError, match="pyproject.toml"):
        _read_pyproject(tmp_path)


# -- playhouse beside peewee's --------------------------------------------------------------------
def _site(tmp_path):
    """A folder laid out like site-packages, holding tinyorm's playhouse as pip installs it."""
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "playhouse", site / "playhouse", ignore=shutil.ignore_patterns("__pycache__"))
    (site / "tinyorm").symlink_to(ROOT / "tinyorm")  # only tinyorm: the checkout's playhouse stays out
    return site


def _peewee_record(site, files):
    info = site / "peewee-3.17.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_text("".join(f"{name},sha256=x,1\n" for name in files), encoding="utf-8")


def test_tinyorm_playhouse_loads_alone(tmp_path):
    site = _site(tmp_path)
    result = _python("import playhouse.cache, playhouse.shortcuts; print('ok')", path=str(site))
    assert result.stdout.strip() == "ok", result.stderr


def test_playhouse_installed_over_peewee_refuses_to_load(tmp_path):
    # peewee first, then tinyorm: our __init__.py replaced peewee's; peewee's other files stay
    site = _site(tmp_path)
    (site / "playhouse" / "sqlite_ext.py").write_text("import peewee\n", encoding="utf-8")
    _peewee_record(site, ["peewee.py", "playhouse/__init__.py", "playhouse/sqlite_ext.py", "playhouse/shortcuts.py"])
    result = _python("import playhouse.cache", path=str(site))
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "also holds files of peewee-3.17.0" in result.stderr
    assert "separate virtualenvs" in result.stderr


def test_peewee_installed_over_playhouse_refuses_to_load(tmp_path):
    # tinyorm first, then peewee: peewee's empty __init__.py replaced ours
    site = _site(tmp_path)
    (site / "playhouse" / "__init__.py").write_text("", encoding="utf-8")
    result = _python("import playhouse.cache", path=str(site))
    assert result.returncode != 0
    assert "is not tinyorm's (peewee was installed over tinyorm)" in result.stderr, result.stderr


def test_peewee_uninstalled_after_both_leaves_a_clear_error(tmp_path):
    # uninstalling peewee deletes the paths both ship, our __init__.py among them
    site = _site(tmp_path)
    for name in ("__init__.py", "kv.py", "pool.py", "shortcuts.py", "signals.py", "test_utils.py"):
        (site / "playhouse" / name).unlink()
    result = _python("import playhouse.cache", path=str(site))
    assert result.returncode != 0
    assert "has lost its __init__.py" in result.stderr, result.stderr
