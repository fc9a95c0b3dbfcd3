"""`tinyorm migrate up` killed (kill -9) in the middle of a migration: the history tells the
truth and the next `up` finishes the job.

Where DDL is transactional the kill rolls everything back; elsewhere (MySQL/MariaDB) each
statement commits, so progress is recorded per statement and `up` resumes after the last
statement that ran.
"""

import re
import signal
import subprocess
import time

from ..conftest import requires
from .conftest import clean_env

# The sleep between the two statements is read from the environment, so the file (and its
# checksum) is the same for the run that is killed and the run that resumes.
SLOW_MIDDLE = """
import os
import time

from tinyorm import *


def upgrade(op):
    op.create_table("first", [("id", AutoField())])
    op.execute("INSERT INTO first (id) VALUES (1)")
    time.sleep(float(os.environ.get("MIGRATION_SLEEP", "0")))
    op.create_table("second", [("id", AutoField())])


def downgrade(op):
    op.drop_table("second")
    op.drop_table("first")
"""


def _start_and_kill(project, source):
    """Run `migrate up` as a subprocess and kill -9 it while it sleeps mid-migration."""
    project.write_migration(
        "0001_slow.py", source.replace("time.sleep(", 'open("started", "w").close()\n    time.sleep(')
    )
    process = subprocess.Popen(
        project.command("migrate", "up"),
        cwd=project.path,
        env=clean_env({"MIGRATION_SLEEP": "60"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (project.path / "started").exists():
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def test_killed_migration_reports_its_state_and_up_finishes_it(db, project):
    _start_and_kill(project, SLOW_MIDDLE)

    status = project.run("migrate", "status", expect=None)
    if db.dialect.transactional_ddl:
        # The transaction died with the process: nothing happened, and status says so.
        assert "first" not in db.get_tables()
        assert re.search(r"pending\s+0001_slow", status.out), status
    else:
        # The first two statements stay in effect: status says the migration is partial,
        # how many statements ran and which was last; it is not "pending".
        assert "first" in db.get_tables() and "second" not in db.get_tables()
        assert status.code != 0, status
        assert re.search(r"partial\s+0001_slow.*2 statement\(s\) ran.*INSERT INTO first", status.out), status

    result = project.run("migrate", "up", env={"MIGRATION_SLEEP": "0"})
    assert "0001_slow" in result.out, result
    if not db.dialect.transactional_ddl:
        assert "resuming 0001_slow after the 2 statement(s)" in result.out, result
    assert {"first", "second"} <= set(db.get_tables())
    # The insert ran exactly once.
    assert db.execute_sql("SELECT COUNT(*) FROM first").fetchone()[0] == 1
    status = project.run("migrate", "status")
    assert re.search(r"applied\s+0001_slow", status.out), status
    project.run("migrate", "down")
    assert "first" not in db.get_tables() and "second" not in db.get_tables()


@requires(transactional_ddl=False)
def test_a_partial_migration_edited_since_is_not_resumed(db, project):
    _start_and_kill(project, SLOW_MIDDLE)

    project.write_migration("0001_slow.py", SLOW_MIDDLE + "\n# edited\n")
    result = project.run("migrate", "up", expect="fail")
    assert "resolve 0001_slow" in result.err and "edited" in result.err, result
    # The documented way out: finish by hand, then say so.
    db.execute_sql("CREATE TABLE second (id INTEGER)")
    project.run("migrate", "resolve", "0001_slow", "--applied")
    status = project.run("migrate", "status", expect=None)
    assert re.search(r"(applied|modified)\s+0001_slow", status.out), status
