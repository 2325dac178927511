"""What Linux's /proc says of a process: its stat fields, its command line and the sockets it holds.
``server stop`` identifies the server it started by them (its command, the port it listens on) and
stops its process group, and a multirun's launching process finds its workers."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3, the state, first; field 4,
    the parent, second); None when the process is gone. The name may hold spaces and parentheses:
    the fields start after its last ')'."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def command_line(pid: int) -> tuple[str, ...] | None:
    """The process's arguments (empty for a kernel thread); None when the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return tuple(raw.rstrip(b"\0").decode(errors="replace").split("\0")) if raw else ()


def pids() -> Iterator[int]:
    """The processes /proc lists now."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def state_and_group(pid: int) -> tuple[str, int] | None:
    """(state, process group) of a process; None when it is gone."""
    fields = stat_fields(pid)
    return None if fields is None else (fields[0], int(fields[2]))


def group_members(group: int) -> list[int]:
    """The live (not zombie) processes of a process group."""
    members = []
    for pid in pids():
        stat = state_and_group(pid)
        if stat and stat[1] == group and stat[0] != "Z":
            members.append(pid)
    return members


def descendant_pids(root: int, marker: str) -> list[int]:
    """The processes below ``root`` whose command line contains ``marker``."""
    parents, commands = {}, {}
    for pid in pids():
        fields, arguments = stat_fields(pid), command_line(pid)
        if fields is None or arguments is None:
            continue
        commands[pid] = " ".join(arguments)
        parents[pid] = int(fields[1])
    found = []
    for pid, command in commands.items():
        ancestor = parents.get(pid)
        while ancestor and ancestor != root:
            ancestor = parents.get(ancestor)
        if ancestor == root and marker in command:
            found.append(pid)
    return found


STOP_TIMEOUT_SECONDS = 60.0


def stop_process_group(pid: int) -> None:
    """SIGTERM to a process group (mlflow server and its workers), SIGKILL if it lingers; returns
    once none of it is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while group_members(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_members(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while group_members(pid):
            time.sleep(0.05)


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets the process holds open; empty when it is gone or its open files
    cannot be read (another user's process, unless we are root)."""
    found: set[int] = set()
    try:
        entries = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return found
    for entry in entries:
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[len("socket:[") : -1]))
    return found


TCP_LISTEN = "0A"  # the state column of /proc/net/tcp for a listening socket


def listening_sockets(port: int) -> set[int]:
    """The inodes of the TCP sockets (IPv4 and IPv6) listening on ``port`` on any address."""
    found: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == TCP_LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                found.add(int(inode))
    return found
