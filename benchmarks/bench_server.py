"""Per-cell cost of a sweep logged through the project's tracking server (PostgreSQL behind
``mlflow server``), with one and with two sweep processes, beside the same sweep on sqlite.

The script starts its own server with ``python -m imbalance_sweep.server start`` in a temporary
directory on free ports on 127.0.0.1, and stops it and removes the directory when it ends, Ctrl-C
included. The sweep is ``python -m imbalance_sweep grid=dense mode=expected report=false`` cut to
5 balances x 8 acc_0s x 5 acc_1s = 200 cells (``--acc-0s``, ``--acc-1s`` change it), run:

* ``1 proc``: one process;
* ``2 procs``: two shards in parallel (``-m shard.count=2 shard.index=0,1 hydra/launcher=joblib
  hydra.launcher.n_jobs=2``).

Each timed sweep logs into a new experiment of a store that already exists (so resume finds
nothing to skip). The per-cell cost is the span of the cells' runs in MLflow (first cell's start to
last cell's end, as MLflow recorded them) over the cell count: it leaves out the ~4 s of process
start, imports and Hydra that every command pays once. The command's whole wall time is shown too.
Each figure is the median of ``--repeat`` sweeps (the machine may be shared: repeat).

Targets: one process through the server within 2x sqlite's per-cell cost; two processes through
the server at least 1.5x the cells per second of one.

Server settings to compare: each ``--server LABEL=OPTIONS`` is a candidate. OPTIONS are
``mlflow server`` options that replace the server's own ``--workers``/``--gunicorn-opts``/
``--uvicorn-opts``/``--waitress-opts``: the script restarts ``mlflow server`` with the command line
and environment that ``imbalance_sweep.server`` gave it (store, artifacts, basic-auth app) plus
OPTIONS. An empty OPTIONS keeps the server exactly as ``imbalance_sweep.server`` starts it.

    python benchmarks/bench_server.py                         # the server as the project starts it
    python benchmarks/bench_server.py --repeat 3 \\
        --server 'uvicorn-2=--workers=2' \\
        --server 'uvicorn-1=--workers=1' \\
        --server "gunicorn-2=--workers=2 --gunicorn-opts='--timeout=120'"

Credentials: the server prints the admin's MLFLOW_TRACKING_USERNAME and the password's file when
it starts with MLflow's basic-auth app; the script uses them. Without them, it uses
MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD from the environment if set, else none.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from imbalance_sweep.runtime.processes import stop_process_group
from imbalance_sweep.tracking.server.identity import mlflow_server_pid
from imbalance_sweep.tracking.server.probes import free_port

ACC_0S = "0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0"
ACC_1S = "0.6,0.7,0.8,0.9,1.0"
BALANCES = 5  # grid=dense
SHARDED = ["-m", "shard.count=2", "shard.index=0,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
# mlflow server options a candidate replaces (each with its value)
REPLACED_OPTIONS = {"--workers", "-w", "--gunicorn-opts", "--uvicorn-opts", "--waitress-opts"}
CREDENTIAL_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
START_TIMEOUT_SECONDS = 180.0
TARGET_VS_SQLITE = 2.0
TARGET_SPEEDUP = 1.5


class Interrupted(Exception):
    """SIGTERM (or SIGHUP): clean up as for Ctrl-C."""


def _interrupt(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


@dataclass
class Row:
    label: str
    processes: int
    per_cell_ms: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)

    @property
    def ms(self) -> float:
        return statistics.median(self.per_cell_ms)

    @property
    def rate(self) -> float:
        return 1000.0 / self.ms


# --- the sweep ----------------------------------------------------------------------------------


def sweep_command(acc_0s: str, acc_1s: str, experiment: str, processes: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "imbalance_sweep",
        *(SHARDED if processes == 2 else []),
        "grid=dense",
        "mode=expected",
        "report=false",
        f"grid.acc_0s=[{acc_0s}]",
        f"grid.acc_1s=[{acc_1s}]",
        f"experiment={experiment}",
    ]


def client_env(tracking_uri: str, credentials: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CREDENTIAL_VARIABLES}
    for key in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(key, None)
    env.update(credentials)
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def cell_span_ms(tracking_uri: str, credentials: dict[str, str], experiment: str) -> tuple[int, float]:
    """(cells, ms from the first cell run's start to the last one's end), as MLflow recorded them."""
    import mlflow

    saved = {key: os.environ.get(key) for key in CREDENTIAL_VARIABLES}
    os.environ.update(credentials)
    try:
        client = mlflow.MlflowClient(tracking_uri)
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id], max_results=50_000)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    cells = [run.info for run in runs if "mlflow.parentRunId" in run.data.tags]
    if not cells or any(info.end_time is None or info.status != "FINISHED" for info in cells):
        raise RuntimeError(f"experiment {experiment}: not every cell run FINISHED")
    return len(cells), float(max(i.end_time for i in cells) - min(i.start_time for i in cells))


def timed_sweep(
    row: Row, *, tracking_uri: str, credentials: dict[str, str], cwd: Path, args, expected: int
) -> None:
    experiment = f"bench-{re.sub(r'[^A-Za-z0-9_.-]', '_', row.label)}-{row.processes}-{len(row.wall_s)}"
    command = sweep_command(args.acc_0s, args.acc_1s, experiment, row.processes)
    started = time.perf_counter()
    done = run_in_own_group(command, cwd=cwd, env=client_env(tracking_uri, credentials))
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{row.label}, {row.processes} proc(s): the sweep failed:\n{done.stderr[-3000:]}")
    cells, span = cell_span_ms(tracking_uri, credentials, experiment)
    if cells != expected:
        raise RuntimeError(f"{row.label}: {cells} cell runs logged, {expected} expected")
    row.wall_s.append(wall)
    row.per_cell_ms.append(span / cells)
    print(
        f"  {row.label:24} {row.processes} proc(s): {span / cells:7.1f} ms/cell, wall {wall:6.1f} s",
        flush=True,
    )


# --- the server -----------------------------------------------------------------------------------


def start_in_own_session(
    command: list[str], *, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen:
    """A command in a session (and process group) of its own, its output captured."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def server_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m imbalance_sweep.server ...`` in its own session (a Ctrl-C does not cut it short)."""
    env = {key: value for key, value in os.environ.items() if key not in CREDENTIAL_VARIABLES}
    process = start_in_own_session([sys.executable, "-m", "imbalance_sweep.server", *args], env=env)
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        # Interrupted: let it finish (cut short, it could leave a server nobody records), then stop.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            process.communicate()
        finally:
            signal.signal(signal.SIGINT, previous)
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_in_own_group(command: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a sweep in a process group of its own; interrupted, the whole group (joblib's workers
    too) is stopped before this returns."""
    process = start_in_own_session(command, cwd=cwd, env=env)
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        stop_process_group(process.pid)
        process.wait()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def credentials_from(start_output: str) -> dict[str, str]:
    """The admin's credentials that ``server start`` prints (``export`` lines), else the caller's."""
    user = re.search(r"^export MLFLOW_TRACKING_USERNAME=(\S+)$", start_output, re.M)
    password = re.search(r"^export MLFLOW_TRACKING_PASSWORD=(.+)$", start_output, re.M)
    if user and password:
        value = password.group(1).strip()
        from_file = re.fullmatch(r'"?\$\(cat (.+)\)"?', value)
        if from_file:
            value = Path(shlex.split(from_file.group(1))[0]).read_text().strip()
        else:
            value = shlex.split(value)[0]
        return {"MLFLOW_TRACKING_USERNAME": user.group(1), "MLFLOW_TRACKING_PASSWORD": value}
    return {key: os.environ[key] for key in CREDENTIAL_VARIABLES if os.environ.get(key)}


def answers_health(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=2.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _strip_options(command: list[str]) -> list[str]:
    kept, skip = [], False
    for token in command:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in REPLACED_OPTIONS:
            skip = "=" not in token
            continue
        kept.append(token)
    return kept


class BenchServer:
    """The directory's PostgreSQL-backed server; ``relaunch`` restarts its ``mlflow server`` with
    other options, keeping the command line and environment ``imbalance_sweep.server`` gave it."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.own_pid: int | None = None  # an mlflow server this script launched
        self.tracking_uri = ""
        self.credentials: dict[str, str] = {}
        self.original: tuple[list[str], dict[str, str]] | None = None

    def start(self) -> None:
        port, db_port = free_port(), free_port()
        while db_port == port:
            db_port = free_port()
        done = server_cli(
            "start", "--dir", str(self.directory), "--port", str(port), "--db-port", str(db_port)
        )
        if done.returncode != 0:
            raise RuntimeError(f"server start failed: {(done.stderr or done.stdout).strip()[-2000:]}")
        self.tracking_uri = f"http://127.0.0.1:{port}"
        self.credentials = credentials_from(done.stdout)
        pid = mlflow_server_pid(self.directory)
        if pid is None:
            raise RuntimeError("server start succeeded but no mlflow server process is recorded")
        command = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().rstrip(b"\0").decode(errors="replace")
        env = dict(item.split("=", 1) for item in environ.split("\0") if "=" in item)
        self.original = (command, env)

    def use(self, options: list[str]) -> None:
        """Serve with ``options`` (none: the server as imbalance_sweep.server started it)."""
        if not options and self.own_pid is None:
            return
        self._stop_current()
        command, env = self.original
        command = _strip_options(command) + options
        with open(self.directory / "bench-mlflow-server.log", "ab") as log:
            log.write(f"--- {shlex.join(command[3:])}\n".encode())
            log.flush()
            process = subprocess.Popen(
                command,
                cwd=self.directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.own_pid = process.pid
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not answers_health(self.tracking_uri):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (self.directory / "bench-mlflow-server.log").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"mlflow server {shlex.join(options)} did not start:\n{tail}")
            time.sleep(0.2)

    def _stop_current(self) -> None:
        if self.own_pid is not None:
            stop_process_group(self.own_pid)
            self.own_pid = None
            return
        pid = mlflow_server_pid(self.directory)
        if pid is not None:
            stop_process_group(pid)

    def stop(self) -> None:
        """Stop whatever runs (our mlflow server, then the directory's server and PostgreSQL)."""
        if self.own_pid is not None:
            stop_process_group(self.own_pid)
            self.own_pid = None
        done = server_cli("stop", "--dir", str(self.directory))
        if done.returncode != 0:
            print(f"(server stop: {(done.stderr or done.stdout).strip()[-500:]})", file=sys.stderr)


# --- main -------------------------------------------------------------------------------------------


def parse_candidate(text: str) -> tuple[str, list[str]]:
    label, sep, options = text.partition("=")
    if not sep or not label:
        raise argparse.ArgumentTypeError(f"--server takes LABEL=OPTIONS, got {text!r}")
    return label, shlex.split(options)


def report(rows: list[Row], cells: int) -> None:
    sqlite = next((row for row in rows if row.label == "sqlite" and row.processes == 1), None)
    print(f"\n{cells} cells; medians of the repeats")
    print(
        f"{'store / server':24} {'procs':>5} {'ms/cell':>8} {'cells/s':>8} {'wall s':>7} {'x sqlite':>9} {'2 vs 1':>7}"
    )
    ones = {row.label: row for row in rows if row.processes == 1}
    for row in rows:
        vs_sqlite = f"{row.ms / sqlite.ms:8.2f}x" if sqlite else ""
        speedup = ""
        if row.processes == 2 and row.label in ones:
            speedup = f"{row.rate / ones[row.label].rate:6.2f}x"
        print(
            f"{row.label:24} {row.processes:>5} {row.ms:8.1f} {row.rate:8.1f}"
            f" {statistics.median(row.wall_s):7.1f} {vs_sqlite:>9} {speedup:>7}"
        )
    for label, one in ones.items():
        if label == "sqlite":
            continue
        verdicts = []
        if sqlite:
            ratio = one.ms / sqlite.ms
            verdicts.append(
                f"1 proc {ratio:.2f}x sqlite's ms/cell (target <= {TARGET_VS_SQLITE:g}):"
                f" {'PASS' if ratio <= TARGET_VS_SQLITE else 'FAIL'}"
            )
        two = next((row for row in rows if row.label == label and row.processes == 2), None)
        if two:
            speedup = two.rate / one.rate
            verdicts.append(
                f"2 procs {speedup:.2f}x 1 proc's cells/s (target >= {TARGET_SPEEDUP:g}):"
                f" {'PASS' if speedup >= TARGET_SPEEDUP else 'FAIL'}"
            )
        print(f"{label}: " + "; ".join(verdicts))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--server",
        action="append",
        type=parse_candidate,
        metavar="LABEL=OPTIONS",
        dest="servers",
        help="a server candidate (repeatable); default: 'project=' (as imbalance_sweep.server starts it)",
    )
    parser.add_argument("--repeat", type=int, default=2, help="sweeps per figure, median shown (default 2)")
    parser.add_argument("--acc-0s", default=ACC_0S, help=f"grid.acc_0s values (default {ACC_0S})")
    parser.add_argument("--acc-1s", default=ACC_1S, help=f"grid.acc_1s values (default {ACC_1S})")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the sqlite sweeps")
    parser.add_argument(
        "--processes", default="1,2", help="sweep processes to time: 1, 2 or 1,2 (default 1,2)"
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    try:
        process_counts = sorted({int(p) for p in args.processes.split(",")})
    except ValueError:
        parser.error(f"--processes takes 1, 2 or 1,2; got {args.processes!r}")
    if not set(process_counts) <= {1, 2}:
        parser.error(f"--processes takes 1, 2 or 1,2; got {args.processes!r}")
    servers = args.servers or [("project", [])]
    cells = BALANCES * len(args.acc_0s.split(",")) * len(args.acc_1s.split(","))

    signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # even when started with SIGINT ignored (`cmd &`)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    if os.geteuid() == 0:
        work.chmod(0o755)  # a root user's PostgreSQL runs as `postgres`, which must reach the directory
    server = BenchServer(work / "server")
    rows: list[Row] = []
    try:
        if not args.no_sqlite:
            sqlite_uri = f"sqlite:///{work}/sqlite/mlflow.db"
            (work / "sqlite").mkdir()
            subprocess.run(  # the store's tables, untimed, as a user's mlflow.db has them already
                [
                    sys.executable,
                    "-c",
                    "import sys, mlflow; mlflow.MlflowClient(sys.argv[1]).search_experiments()",
                    sqlite_uri,
                ],
                check=True,
                capture_output=True,
            )
            print("sqlite", flush=True)
            for processes in process_counts:
                row = Row("sqlite", processes)
                rows.append(row)
                for _ in range(args.repeat):
                    timed_sweep(
                        row,
                        tracking_uri=sqlite_uri,
                        credentials={},
                        cwd=work / "sqlite",
                        args=args,
                        expected=cells,
                    )

        print("starting PostgreSQL and mlflow server (imbalance_sweep.server start) ...", flush=True)
        server.start()
        print(f"  {server.tracking_uri}, credentials: {'yes' if server.credentials else 'none'}", flush=True)
        for label, options in servers:
            server.use(options)
            print(
                f"{label}: mlflow server {shlex.join(options) or '(as imbalance_sweep.server starts it)'}",
                flush=True,
            )
            for processes in process_counts:
                row = Row(label, processes)
                rows.append(row)
                for _ in range(args.repeat):
                    timed_sweep(
                        row,
                        tracking_uri=server.tracking_uri,
                        credentials=server.credentials,
                        cwd=work,
                        args=args,
                        expected=cells,
                    )
    except (KeyboardInterrupt, Interrupted) as stop:
        print(f"\ninterrupted ({str(stop) or 'Ctrl-C'}): cleaning up", file=sys.stderr)
        return 130
    except RuntimeError as error:
        print(f"bench_server: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            server.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if rows and all(row.per_cell_ms for row in rows):
            report(rows, cells)
    return 0


if __name__ == "__main__":
    sys.exit(main())
