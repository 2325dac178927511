"""Which process is the directory's ``mlflow server``: stop and status trust no pid file alone.

The directory's server is a process that runs the command start launches for this directory and
listens on its port (the pid file names it; a lost or older pid file falls back to the port's
listener). A forged pid file (a live ``sleep``) identifies nothing, so nothing else is signalled.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ...runtime.processes import (
    command_line,
    group_members,
    listening_sockets,
    pids,
    socket_inodes,
    stat_fields,
    state_and_group,
)
from .auth import AUTH_APP
from .files import RefusedPath, read_file
from .layout import DEFAULT_DIR, Layout, Settings, open_layout, recorded_settings
from .mlflow_server import mlflow_server_command


@dataclass(frozen=True)
class ProcessRecord:
    """What identifies one process for as long as it lives: a process id is reused once the process
    is gone, but not together with the same start time (field 22 of /proc/<pid>/stat, clock ticks
    since boot) and command line."""

    pid: int
    start_time: int
    cmdline: tuple[str, ...]

    @classmethod
    def of(cls, pid: int) -> ProcessRecord | None:
        """The live process ``pid`` as it is now; None when it is gone or a zombie."""
        fields, arguments = stat_fields(pid), command_line(pid)
        if fields is None or fields[0] == "Z" or not arguments:
            return None
        # field 22 is the 20th after the command name (field 2)
        return cls(pid, int(fields[19]), arguments)

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "start_time": self.start_time, "cmdline": list(self.cmdline)})

    @classmethod
    def from_json(cls, text: str) -> ProcessRecord:
        """ValueError when ``text`` is not such a record (an older plain process id included)."""
        try:
            found = json.loads(text)
            record = cls(int(found["pid"]), int(found["start_time"]), tuple(str(a) for a in found["cmdline"]))
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError("it holds no process record (pid, start time, command line)") from error
        if record.pid <= 1:
            raise ValueError(f"it names process {record.pid}")
        return record


def server_command(layout: Layout, settings: Settings) -> list[str]:
    """The command line of the ``mlflow server`` that ``start`` launches for this directory and
    these settings: with the port it listens on, what identifies the directory's server."""
    return mlflow_server_command(
        layout.artifacts, host=settings.host, port=settings.port, workers=settings.workers, app_name=AUTH_APP
    )


def _group_listens(group: int, port: int) -> bool:
    """A process of the group holds a TCP socket listening on ``port``."""
    listening = listening_sockets(port)
    return bool(listening) and any(socket_inodes(pid) & listening for pid in group_members(group))


def _not_the_server(pid: int, layout: Layout, settings: Settings) -> str | None:
    """None when process ``pid`` is this directory's ``mlflow server``: it leads its process group
    (``stop`` signals the group), runs the command ``start`` launches for this directory (whatever
    the interpreter's path), and its group listens on the directory's port. Else, why not."""
    fields, arguments = stat_fields(pid), command_line(pid)
    if fields is None or fields[0] == "Z" or arguments is None:
        return f"process {pid} is gone"
    if int(fields[2]) != pid:
        return f"process {pid} leads no process group"
    if arguments[1:] != tuple(server_command(layout, settings)[1:]):
        return f"process {pid} runs another command ({' '.join(arguments)[:120]})"
    if not _group_listens(pid, settings.port):
        return f"process {pid} does not listen on port {settings.port}"
    return None


def _recorded_server(layout: Layout, settings: Settings) -> tuple[int | None, str | None]:
    """(pid, None) when the pid file names a live process that matches its record (start time and
    command line) and is this directory's server; (None, why) when there is a pid file that does not;
    (None, None) when there is none."""
    try:
        text = read_file(layout.mlflow_pid)
    except FileNotFoundError:
        return None, None
    except (OSError, RefusedPath) as error:
        return None, f"it cannot be read ({getattr(error, 'strerror', None) or error})"
    try:
        record = ProcessRecord.from_json(text)
    except ValueError as error:
        return None, str(error)
    live = ProcessRecord.of(record.pid)
    if live is None:
        return None, f"process {record.pid} is gone"
    if live.start_time != record.start_time:
        return None, (
            f"process {record.pid} is another process (started at tick {live.start_time} after boot,"
            f" the recorded one at tick {record.start_time})"
        )
    if live.cmdline != record.cmdline:
        return None, f"process {record.pid} runs another command ({' '.join(live.cmdline)[:120]})"
    why = _not_the_server(record.pid, layout, settings)
    return (record.pid, None) if why is None else (None, why)


def _port_group_leaders(port: int) -> list[int]:
    """The process groups of the processes that listen on ``port`` (those /proc lets us see)."""
    listening = listening_sockets(port)
    if not listening:
        return []
    groups = set()
    for pid in pids():
        stat = state_and_group(pid)
        if stat is not None and socket_inodes(pid) & listening:
            groups.add(stat[1])
    return sorted(groups)


@dataclass(frozen=True)
class Found:
    """The directory's ``mlflow server``, as ``stop`` and ``status`` identify it."""

    pid: int | None  # its process (and process group) id; None when none runs, or none we can tell is ours
    pid_file: str | None  # why the pid file did not identify it (None: it did, or there is none)


def find_server(layout: Layout, settings: Settings) -> Found:
    """The process the pid file names, if it is the directory's server; else the one that listens
    on the directory's port and runs the directory's server command (a pid file lost, or written by
    an older version, still finds the server; a forged one signals nothing)."""
    pid, why = _recorded_server(layout, settings)
    if pid is not None:
        return Found(pid, None)
    for leader in _port_group_leaders(settings.port):
        if _not_the_server(leader, layout, settings) is None:
            return Found(leader, why)
    return Found(None, why)


def mlflow_server_pid(directory: str | os.PathLike[str] = DEFAULT_DIR) -> int | None:
    """The process (and process group) id of the directory's running ``mlflow server``, or None.

    Only this directory's server counts: the process runs the command ``start`` launches for the
    directory and listens on its port. ``mlflow server`` leads the process group of its workers,
    which ``stop`` signals.
    """
    layout = open_layout(directory)
    return find_server(layout, recorded_settings(layout)).pid
