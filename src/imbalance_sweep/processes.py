"""What Linux's /proc says of a process: its stat fields and its command line. ``server stop``
identifies the server it started by them, and a multirun's launching process finds its workers."""

from __future__ import annotations

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
