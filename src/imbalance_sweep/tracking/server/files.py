"""The team server directory's own files and directories, made and changed without following a
symbolic link.

``python -m imbalance_sweep.server`` often runs as root, and its directory may be one others can
reach: a link planted where the server keeps a file or directory of its own would turn a write, a
chown or a chmod onto whatever the link points at. So every entry is opened with O_NOFOLLOW (a link
is refused with one line), a directory is chmodded only when this program has just made it, and a
tree is chowned only when a marker in it says this program made it, never descending through a
link nor changing a file that has other names (a hard link).
"""

from __future__ import annotations

import errno
import os
import pwd
import stat
from pathlib import Path
from typing import BinaryIO

# In a directory this program made (postgres/), written as it makes it: what lets a later start,
# as root, hand the whole tree to PostgreSQL's user.
MARKER = ".made-by-imbalance-sweep-server"


class RefusedPath(RuntimeError):
    """A path the server will not take as its own: one line saying why."""


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _refuse_link(path: Path) -> RefusedPath:
    try:
        target = f" (to {os.readlink(path)})"
    except OSError:
        target = ""
    return RefusedPath(
        f"{path} is a symbolic link{target}: the server keeps its own file or directory there and"
        " follows no link; remove the link or choose another --dir"
    )


def check_entry(path: Path) -> os.stat_result | None:
    """The entry's own status (None when absent); a symbolic link is refused."""
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(found.st_mode):
        raise _refuse_link(path)
    return found


def check_server_directory(path: Path) -> None:
    """The directory the user named (when it exists) must be a directory itself, not a link to one,
    owned by this user (or root), and not writable by every user: in such a place another user could
    plant what the server takes for its own files. Nor may another user be able to replace it."""
    _check_parent(path.parent)
    found = check_entry(path)
    if found is None:
        return
    if not stat.S_ISDIR(found.st_mode):
        raise RefusedPath(f"--dir {path} is not a directory")
    if found.st_uid not in {os.geteuid(), 0}:
        raise RefusedPath(
            f"--dir {path} belongs to {user_name(found.st_uid)}, not to {user_name(os.geteuid())}:"
            " use a directory of your own (e.g. /srv/mlflow, or one under your home directory)"
        )
    if found.st_mode & stat.S_IWOTH:
        raise RefusedPath(
            f"--dir {path} is writable by every user (mode {stat.S_IMODE(found.st_mode):o}): use a"
            " directory only you can write (e.g. /srv/mlflow, or one under your home directory)"
        )


def _check_parent(parent: Path) -> None:
    """The directory holding the server directory, when it exists, must be one where no other user
    can replace the server directory: owned by this user or root, and sticky if every user may write
    it (as /tmp is)."""
    try:
        found = os.stat(parent)
    except FileNotFoundError:
        return
    if found.st_uid not in {os.geteuid(), 0}:
        raise RefusedPath(
            f"{parent} belongs to {user_name(found.st_uid)}, who could replace the server directory in it:"
            " use a directory of your own (e.g. /srv/mlflow, or one under your home directory)"
        )
    if found.st_mode & stat.S_IWOTH and not found.st_mode & stat.S_ISVTX:
        raise RefusedPath(
            f"{parent} is writable by every user (mode {stat.S_IMODE(found.st_mode):o}), who could replace"
            " the server directory in it: use a directory of your own (e.g. /srv/mlflow)"
        )


def open_directory(path: Path) -> int:
    """A descriptor of the directory itself, never of a link's target."""
    found = check_entry(path)
    if found is not None and not stat.S_ISDIR(found.st_mode):
        raise RefusedPath(f"{path} is not a directory: the server keeps its own directory there")
    return _open_no_follow(path, os.O_RDONLY | os.O_DIRECTORY)


def make_directory(path: Path, mode: int, *, owners: set[int], mark: bool = False) -> bool:
    """The directory ``path``: made with ``mode`` when absent (and then, with ``mark``, holding
    MARKER), returning True; an existing one must be a real directory owned by one of ``owners``
    and is left as it is."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        descriptor = open_directory(path)
        owner = os.fstat(descriptor).st_uid
        os.close(descriptor)
        if owner not in owners:
            raise RefusedPath(
                f"{path} belongs to {user_name(owner)}: the server did not make it; choose another --dir"
            ) from None
        return False
    descriptor = open_directory(path)
    try:
        os.fchmod(descriptor, mode)  # mkdir's mode went through the umask
        if mark:
            os.close(
                os.open(
                    MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=descriptor
                )
            )
    finally:
        os.close(descriptor)
    return True


def _open_no_follow(path: Path, flags: int, mode: int = 0o644) -> int:
    try:
        return os.open(path, flags | os.O_NOFOLLOW, mode)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _refuse_link(path) from None
        raise


def read_file(path: Path) -> str:
    """The file's text; a link is refused, an absent file is FileNotFoundError."""
    with os.fdopen(_open_no_follow(path, os.O_RDONLY), encoding="utf-8", errors="replace") as file:
        return file.read()


def create_file(path: Path, text: str, mode: int, *, owner: tuple[int, int] | None = None) -> None:
    """A new file (it must not exist, not even as a link) with ``mode`` from the start, handed to
    ``owner`` (uid, gid) if given."""
    descriptor = _open_no_follow(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w") as file:
        if owner is not None:
            os.fchown(descriptor, *owner)
        file.write(text)


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace the file whole (``mode`` from the start: a private file is never readable by others,
    not even for a moment): written beside it, then renamed over it. A link at either name is refused."""
    check_entry(path)
    partial = path.with_name(path.name + ".new")
    leftover = check_entry(partial)
    if leftover is not None:
        if not stat.S_ISREG(leftover.st_mode):
            raise RefusedPath(f"{partial} is not a file the server wrote")
        os.unlink(partial)  # a write of ours cut short
    create_file(partial, text, mode)
    os.replace(partial, path)


def open_append(path: Path) -> BinaryIO:
    """The file (a log) opened to append, made if absent; a link is refused."""
    return os.fdopen(_open_no_follow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab")


def remove_file(path: Path) -> None:
    """Remove the server's own file, if it is one (a link or a directory there is left alone)."""
    found = os.lstat(path) if os.path.lexists(path) else None
    if found is not None and stat.S_ISREG(found.st_mode):
        os.unlink(path)


def chown_tree(path: Path, uid: int, gid: int) -> None:
    """Hand the directory ``path`` and everything in it to uid:gid, when MARKER says this program
    made it; a tree already owned by uid is left alone, marked or not. Links are neither followed
    nor changed, and a file with other names (a hard link) is not changed."""
    descriptor = open_directory(path)
    try:
        top = os.fstat(descriptor)
        try:
            marker = os.stat(MARKER, dir_fd=descriptor, follow_symlinks=False)
            marked = stat.S_ISREG(marker.st_mode)
        except FileNotFoundError:
            marked = False
        if not marked:
            if top.st_uid == uid:
                return
            raise RefusedPath(
                f"{path} belongs to {user_name(top.st_uid)} and has no {MARKER}: the server did not"
                f" make it and will not hand it to {user_name(uid)}; choose another --dir"
            )
        if top.st_uid != uid:
            os.fchown(descriptor, uid, gid)
        for _, dirnames, filenames, folder in os.fwalk(".", dir_fd=descriptor, follow_symlinks=False):
            for name in dirnames + filenames:
                entry = os.stat(name, dir_fd=folder, follow_symlinks=False)
                if stat.S_ISLNK(entry.st_mode) or entry.st_uid == uid:
                    continue
                if not stat.S_ISDIR(entry.st_mode) and entry.st_nlink > 1:
                    continue
                os.chown(name, uid, gid, dir_fd=folder, follow_symlinks=False)
    finally:
        os.close(descriptor)
