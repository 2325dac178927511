"""The team server door against a hostile or careless hand (`python -m imbalance_sweep.server`):
a link planted where the server keeps its own file or directory is refused and nothing is written,
chowned or chmodded through it; as root, only a postgres/ that the server made is handed to the
postgres user; `stop` signals only the directory's own `mlflow server` (its command and its port,
not a pid file alone) and fails while something else answers on the port; `status` says so; `start`
reports success only once the server reads its store through PostgreSQL.

A stand-in `mlflow server` (a package named mlflow on PYTHONPATH, run with the very command line
start gives the directory's server) answers /health without PostgreSQL: the fast tests use it."""

from __future__ import annotations

import json
import os
import pwd
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imbalance_sweep import server as server_door
from imbalance_sweep.tracking.server.files import MARKER
from imbalance_sweep.tracking.server.identity import ProcessRecord, server_command
from imbalance_sweep.tracking.server.layout import Layout, Settings
from imbalance_sweep.tracking.server.postgres import POSTGRES_SYSTEM_USER, PostgresNotFound, postgres_bin
from imbalance_sweep.tracking.server.probes import answers_health, authenticated_status, free_port

PROGRAM = "python -m imbalance_sweep.server"


def door(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """The command as a person runs it."""
    return subprocess.run(
        [sys.executable, "-m", "imbalance_sweep.server", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    [line] = done.stderr.splitlines()
    assert "Traceback" not in done.stderr
    return line


def footprint(path: Path) -> dict[str, tuple]:
    """Owner, mode and content of everything under ``path`` (links not followed)."""
    found = {}
    for entry in [path, *sorted(path.rglob("*"))]:
        status = entry.lstat()
        content = entry.read_bytes() if stat.S_ISREG(status.st_mode) else None
        found[str(entry)] = (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode), content)
    return found


def recorded_settings(directory: Path) -> Settings:
    """server.json as a first start writes it, on free ports (nothing else of the machine's)."""
    settings = Settings(port=free_port(), db_port=free_port(), workers=1)
    directory.mkdir(exist_ok=True)
    (directory / "server.json").write_text(json.dumps(settings.__dict__))
    return settings


# --- links and ownership ------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["postgres", "auth", "server.json"])
def test_a_link_where_the_server_keeps_its_own_entry_is_refused_and_its_target_left_as_it_was(
    tmp_path, entry
):
    """As root (CI, this machine) the probe's case: postgres/ linked to a root-owned private file's
    directory was chowned to postgres. Every command refuses the link with one line."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "private").write_text("root's own\n")
    (victim / "private").chmod(0o600)
    directory = tmp_path / "server"
    directory.mkdir()
    target = victim if entry in ("postgres", "auth", "artifacts") else victim / "private"
    (directory / entry).symlink_to(target)
    before = footprint(victim)
    for command in ("start", "status", "stop") if entry == "postgres" else ("start",):
        done = door(command, "--dir", str(directory))
        assert done.returncode == 2, done.stderr
        line = one_error_line(done)
        assert line == (
            f"imbalance-sweep: error: {directory / entry} is a symbolic link (to {target}): the server keeps"
            " its own file or directory there and follows no link; remove the link or choose another --dir"
        )
    assert footprint(victim) == before
    assert [path.name for path in directory.iterdir()] == [entry]


def test_a_server_directory_that_is_a_link_or_others_can_write_or_replace_is_refused(tmp_path):
    """Where another user can plant entries (a world-writable directory, or a link to one) or
    replace the directory (in a world-writable parent without the sticky bit) the server keeps none
    of its own."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    link = tmp_path / "link"
    link.symlink_to(shared)
    done = door("start", "--dir", str(shared))
    assert done.returncode == 2
    assert one_error_line(done) == (
        f"imbalance-sweep: error: --dir {shared} is writable by every user (mode 1777): use a directory"
        " only you can write (e.g. /srv/mlflow, or one under your home directory)"
    )
    done = door("start", "--dir", str(link))
    assert done.returncode == 2
    assert "is a symbolic link" in one_error_line(done)
    not_sticky = tmp_path / "not-sticky"
    not_sticky.mkdir()
    not_sticky.chmod(0o777)  # anyone could rename the server directory away and plant their own
    done = door("start", "--dir", str(not_sticky / "server"))
    assert done.returncode == 2
    assert one_error_line(done) == (
        f"imbalance-sweep: error: {not_sticky} is writable by every user (mode 777), who could replace"
        " the server directory in it: use a directory of your own (e.g. /srv/mlflow)"
    )
    assert list(shared.iterdir()) == [] and list(not_sticky.iterdir()) == []


def _postgres_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        return None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root chowns postgres/ to the postgres user")
@pytest.mark.skipif(_postgres_user() is None, reason="no postgres system user (Debian's postgresql makes it)")
@pytest.mark.parametrize("marked", [True, False], ids=["made-by-the-server", "not-made-by-it"])
def test_as_root_start_hands_to_postgres_only_what_it_made_and_nothing_through_a_link(tmp_path, marked):
    """A postgres/ left owned by root with a link and a hard link in it: start chowns the directory
    only when the server's marker is in it, never what the link points at nor the hard-linked file.
    Under pytest's private temp directory the postgres user cannot reach it: the line that says so
    suggests no world-writable place."""
    try:
        postgres_bin()
    except PostgresNotFound as error:
        pytest.skip(str(error))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "private").write_text("root's own\n")
    (victim / "private").chmod(0o600)
    directory = tmp_path / "server"
    recorded_settings(directory)
    postgres = directory / "postgres"
    postgres.mkdir(mode=0o700)
    if marked:
        (postgres / MARKER).write_text("")
    (postgres / "escape").symlink_to(victim)
    os.link(victim / "private", postgres / "hard-link")
    before = footprint(victim)

    done = door("start", "--dir", str(directory))
    assert done.returncode == 2
    line = one_error_line(done)
    owner = _postgres_user()
    if marked:
        assert line.startswith(
            f"imbalance-sweep: error: the 'postgres' system user cannot reach {postgres}: "
        )
        assert line.endswith("(not under /root or pytest's private temp directory; e.g. /srv/mlflow)")
        assert (postgres.stat().st_uid, (postgres / MARKER).stat().st_uid) == (owner.pw_uid, owner.pw_uid)
    else:
        assert line == (
            f"imbalance-sweep: error: {postgres} belongs to root and has no {MARKER}: the server did not"
            " make it and will not hand it to postgres; choose another --dir"
        )
        assert postgres.stat().st_uid == 0
    assert (postgres / "escape").lstat().st_uid == 0 and (postgres / "hard-link").stat().st_uid == 0
    assert footprint(victim) == before
    assert not (postgres / "data").exists()


# --- stop and status tell the truth --------------------------------------------------------------

STAND_IN = """
import http.server, sys
option = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # /health answers; every other call fails, as with no database behind
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()
        self.wfile.write(b"OK")

    do_POST = do_GET

    def log_message(self, *args):
        pass

http.server.HTTPServer((option["host"], int(option["port"])), Handler).serve_forever()
"""


@pytest.fixture
def stand_in(tmp_path):
    """Start a stand-in for the ``mlflow server`` of a directory and settings: the very command line
    start would run, in its own session, listening on the settings' port."""
    package = tmp_path / "stand-in" / "mlflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(STAND_IN)
    started = []

    def start(directory: Path, settings: Settings) -> subprocess.Popen:
        command = server_command(Layout(directory), settings)
        process = subprocess.Popen(
            command,
            cwd=package.parent,
            env={**os.environ, "PYTHONPATH": str(package.parent)},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        started.append(process)
        deadline = time.monotonic() + 30
        while not answers_health(settings.tracking_uri):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


@pytest.fixture
def sleeper():
    """A live process leading its own group: what a forged pid file names."""
    process = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        while ProcessRecord.of(process.pid) is None or ProcessRecord.of(process.pid).cmdline[0] != "sleep":
            time.sleep(0.01)
        yield process
    finally:
        process.kill()
        process.wait()


def test_stop_finds_the_directorys_server_by_its_port_when_the_pid_file_is_a_bare_number(tmp_path, stand_in):
    """The probe's case: a pid file holding a plain number. stop stops the server that runs this
    directory's command on its port, says so, and the port is free afterwards."""
    directory = tmp_path / "server"
    settings = recorded_settings(directory)
    process = stand_in(directory, settings)
    (directory / "mlflow-server.pid").write_text(f"{process.pid}\n")

    done = door("status", "--dir", str(directory))
    assert done.returncode == server_door.EXIT_NOT_RUNNING  # no PostgreSQL
    assert done.stdout == (
        f"{directory}: mlflow server pid {process.pid} at {settings.tracking_uri} (answering; found by its"
        " port, the pid file identified none: it holds no process record (pid, start time, command line));"
        f" PostgreSQL not running on port {settings.db_port}\n"
    )
    done = door("stop", "--dir", str(directory))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"stopped mlflow server (pid {process.pid}) of {directory}\n"
    assert process.wait(timeout=10) == -signal.SIGTERM
    assert not answers_health(settings.tracking_uri)
    assert not (directory / "mlflow-server.pid").exists()


@pytest.mark.parametrize("forged", ["sleep", "another-directorys-server"])
def test_stop_signals_no_process_but_the_directorys_server_and_fails_while_another_answers_its_port(
    tmp_path, stand_in, sleeper, forged
):
    """A pid file forged with a live process's id, start time and command line, and a server of
    another directory on this directory's port: stop signals neither, says so and exits 1; status
    and start say the port is not this directory's server's."""
    directory = tmp_path / "server"
    settings = recorded_settings(directory)
    other = stand_in(tmp_path / "other", settings)  # the same port, another artifacts root
    named = sleeper if forged == "sleep" else other
    (directory / "mlflow-server.pid").write_text(ProcessRecord.of(named.pid).to_json())

    done = door("stop", "--dir", str(directory))
    assert done.returncode == 1
    assert done.stdout == f"nothing of {directory} was running\n"
    pid_file_line, still = done.stderr.splitlines()
    assert pid_file_line.startswith(
        f"{PROGRAM}: the pid file {directory / 'mlflow-server.pid'} identified no mlflow server of this"
        f" directory: process {named.pid} "
    )
    assert pid_file_line.endswith("; removed it")
    assert still == (
        f"{PROGRAM}: error: a server still answers at {settings.tracking_uri}/health and it is not this"
        " directory's mlflow server (its command line and listening port are not the ones start gives it,"
        " or not visible to this user): nothing signalled it"
    )
    time.sleep(0.2)
    assert sleeper.poll() is None and other.poll() is None  # no signal reached either

    done = door("status", "--dir", str(directory))
    assert done.returncode == server_door.EXIT_NOT_RUNNING
    assert done.stdout.startswith(
        f"{directory}: a server answers at {settings.tracking_uri} but it is not one this directory recorded"
    )
    done = door("start", "--dir", str(directory))
    assert done.returncode == 2
    assert one_error_line(done) == (
        f"imbalance-sweep: error: port {settings.port} is in use by a program that is not this directory's"
        " mlflow server: choose another with --port"
    )
    assert sorted(path.name for path in directory.iterdir()) == ["server.json"]  # start made nothing


# --- the real server ----------------------------------------------------------------------------


def authenticated_search(tracking_server) -> int:
    credentials = tracking_server.credentials
    return authenticated_status(tracking_server.settings, credentials)


@pytest.mark.slow  # a real PostgreSQL and mlflow server, restarted twice
@pytest.mark.xdist_group("team-server")
def test_stop_status_and_start_tell_the_truth_about_the_real_server(tracking_server):
    """A bare-number pid file still stops the real server (and the port is free after); start
    behind a PostgreSQL stopped under a running server starts it again and says so only once the
    server reads its store."""
    directory, uri = tracking_server.directory, tracking_server.tracking_uri
    (directory / "mlflow-server.pid").write_text(f"{tracking_server.pid}\n")
    done = door("stop", "--dir", str(directory))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"stopped mlflow server (pid {tracking_server.pid}) and PostgreSQL of {directory}\n"
    assert not answers_health(uri)

    assert door("start", "--dir", str(directory)).returncode == 0
    data = Layout(directory).data
    pg_ctl = [str(postgres_bin() / "pg_ctl"), "stop", f"--pgdata={data}", "--mode=fast", "--wait"]
    as_owner = ["runuser", "-u", POSTGRES_SYSTEM_USER, "--"] if os.geteuid() == 0 else []
    subprocess.run([*as_owner, *pg_ctl], cwd="/", check=True, capture_output=True)
    assert answers_health(uri) and authenticated_search(tracking_server) == 503
    done = door("status", "--dir", str(directory))
    assert done.returncode == server_door.EXIT_NOT_RUNNING
    assert done.stdout.endswith(
        f"(answering); PostgreSQL not running on port {tracking_server.settings.db_port}\n"
    )

    done = door("start", "--dir", str(directory))
    assert done.returncode == 0, done.stderr
    assert authenticated_search(tracking_server) == 200
    assert door("status", "--dir", str(directory)).returncode == 0
