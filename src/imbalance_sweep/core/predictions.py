"""Your own predictions: a file of labels and scores, loaded and validated in one vectorised pass.

Formats, by the file's extension: ``.csv`` (pyarrow's multithreaded reader), ``.parquet``
(pyarrow), ``.npy`` (a structured array whose fields are the columns) and ``.npz`` (one array per
column). The label column holds 0 and 1 (integers, floats or booleans); the score column holds
probabilities in [0, 1], or logits with ``from_logits=True`` (any finite number, mapped through the
logistic function). Scores become float32, as Keras casts them. Anything else stops with one line
that names the file, the row (counted from 1, after a CSV's header) and the value; so does a file
that cannot be read (empty, truncated, damaged, of another format, or with two columns of one name).
A message shows no more of the file than the one offending value or name, cut at 40 characters.

Predictions already in memory (a training run's validation scores) become the same value through
:func:`predictions_from_arrays`, checked the same way, so the score models take either.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import hashlib
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .checks import NOT_A_PROBABILITY, InvalidValue, first_non_probability, shown

FORMATS = (".csv", ".parquet", ".npy", ".npz")
DIGEST_LENGTH = 16  # hex digits of the file's sha256


@dataclass(frozen=True, eq=False)
class Predictions:
    """A validated predictions file: float32 probabilities, boolean labels, and where they came from."""

    path: str
    label_column: str
    score_column: str
    from_logits: bool
    digest: str
    labels: np.ndarray = field(repr=False)  # bool: True for a positive
    scores: np.ndarray = field(repr=False)  # float32 probabilities

    @property
    def rows(self) -> int:
        return int(self.labels.size)


def file_digest(path: str | os.PathLike[str]) -> str:
    """The first hex digits of the sha256 of the file's bytes: its identity, wherever it lies."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:DIGEST_LENGTH]


SHOWN = 40  # at most this many characters of a value or name from the file in a message
SNIFF_BYTES = 1 << 16  # a CSV's first bytes: its header, and whether it is text at all
# The first bytes of formats a user may put under .csv by mistake.
MAGIC = (
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PAR1", "Parquet data"),
    (b"\x93NUMPY", "a .npy array"),
)
NPY_MAGIC, ZIP_MAGICS = b"\x93NUMPY", (b"PK\x03\x04", b"PK\x05\x06")
# Control characters: text holds none but tab, line feed, form feed and carriage return.
CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 12, 13})


def _cut(text: str, limit: int = SHOWN) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cut_shown(value: object) -> str:
    """A value from the file as a message shows it: its repr, cut at ``SHOWN`` characters."""
    return _cut(shown(value))


def _name(name: str) -> str:
    """A column name from the file: as it is if short and printable, else its repr, cut."""
    name = str(name)
    return name if name.isprintable() and len(name) <= SHOWN else _cut(repr(name))


def column_names(present: Iterable[str]) -> str:
    """The file's column names for a message: at most about 120 characters of them."""
    present = list(present)
    if not present:
        return "(none)"
    shown: list[str] = []
    length = 0
    for name in map(_name, present):
        if shown and length + len(name) > 120:
            return f"{', '.join(shown)}, ... ({len(present)} in all)"
        shown.append(name)
        length += len(name) + 2
    return ", ".join(shown)


def _reason(error: BaseException) -> str:
    """A library's error as a short, printable clause: its first line, quoted values cut."""
    text = (str(error).strip().splitlines() or [""])[0]
    text = re.sub(rf"'([^']{{{SHOWN},}})'", lambda m: _cut(repr(m.group(1))), text)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text) or type(error).__name__
    if len(text) > 120 and ". " in text[:120]:  # whole sentences, as many as fit
        return text[: text[:120].rindex(". ") + 1]
    return _cut(text, 120)


def file_named(path: Path) -> str:
    return f"predictions file {str(path)!r}"


def unreadable(path: Path, kind: str, error: BaseException) -> InvalidValue:
    return InvalidValue(f"{file_named(path)} is not a readable {kind} file ({_reason(error)})")


def missing_column(path: Path, column: str, present: Iterable[str]) -> InvalidValue:
    return InvalidValue(
        f"{file_named(path)} has no column {column!r}; its columns are: {column_names(present)}"
    )


def _check_columns(path: Path, columns: tuple[str, str], present: Iterable[str]) -> None:
    """Each column is present, and only once (a second column of the name makes it ambiguous)."""
    present = list(present)
    for column in columns:
        count = present.count(column)
        if count == 0:
            raise missing_column(path, column, present)
        if count > 1:
            raise InvalidValue(
                f"{file_named(path)} has {count} columns named {column!r}: which one is meant is "
                "ambiguous; give each column its own name"
            )


def csv_header(path: Path) -> list[str]:
    """A CSV's column names, from its first bytes; refuses binary data (gzip, Parquet, ...)."""
    with open(path, "rb") as stream:
        head = stream.read(SNIFF_BYTES)
    for magic, kind in MAGIC:
        if head.startswith(magic) and (kind != "bzip2-compressed data" or head[4:10] == b"1AY&SY"):
            raise InvalidValue(f"{file_named(path)} holds {kind}, not CSV text")
    if b"\0" in head or (len(head.translate(None, CONTROL_BYTES)) < len(head) and not _is_utf8(head)):
        raise InvalidValue(f"{file_named(path)} holds binary data, not CSV text")
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return next(csv.reader(text.splitlines()[:1]), [])


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:  # a character cut at the end of the sniffed bytes is fine
        return len(head) == SNIFF_BYTES and error.start >= len(head) - 3
    return True


def csv_error(path: Path, error: Exception) -> InvalidValue:
    """pyarrow's CSV error as one line; a row of the wrong width is found by its number."""
    import pyarrow.csv as pcsv

    widths = re.search(r"Expected (\d+) columns, got (\d+)", str(error))
    if not widths:
        return InvalidValue(f"{file_named(path)} cannot be read as CSV: {_reason(error)}")
    rows: list[int] = []

    def first_bad(row: Any) -> str:  # a pyarrow.csv.InvalidRow
        rows.append(row.number)
        return "error"

    with contextlib.suppress(Exception):  # only a single-threaded read numbers the rows
        pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(use_threads=False),
            parse_options=pcsv.ParseOptions(invalid_row_handler=first_bad),
        )
    where = f"{file_named(path)}, row {rows[0] - 1}" if rows and rows[0] else file_named(path)
    expected, got = widths.groups()
    return InvalidValue(f"{where} has {got} fields where the header has {expected}")


def _arrow_columns(path: Path, columns: tuple[str, str]) -> list[np.ndarray]:
    """The two columns of a CSV or Parquet file as numpy arrays, nulls reported by row."""
    import pyarrow as pa

    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            present = pq.read_schema(path).names
        except (pa.ArrowException, OSError) as error:
            raise unreadable(path, "Parquet", error) from None
        _check_columns(path, columns, present)
        try:
            table = pq.read_table(path, columns=list(columns))
        except (pa.ArrowException, OSError) as error:
            raise unreadable(path, "Parquet", error) from None
    else:
        import pyarrow.csv as pcsv

        present = csv_header(path)
        if any(present.count(column) > 1 for column in columns):
            _check_columns(path, columns, present)
        try:
            table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(include_columns=list(columns)))
        except (pa.ArrowInvalid, KeyError) as error:
            for column in columns:
                if column not in present:
                    raise missing_column(path, column, present) from None
            raise csv_error(path, error) from None
    return [column_values(path, table, column) for column in columns]


def column_values(path: Path, table: Any, column: str) -> np.ndarray:
    """A column of a pyarrow table read from ``path`` as a numpy array; a missing value is one line
    that names its row."""
    values = table.column(column).combine_chunks()
    if values.null_count:
        row = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
        raise InvalidValue(f"{file_named(path)}, row {row + 1}: {column} is missing")
    array: np.ndarray = values.to_numpy(zero_copy_only=False)
    return array


def _npy_field_names(path: Path) -> list[str] | None:
    """The field names a .npy file's header declares, read without building its dtype (which
    refuses a name given twice); None if the header cannot be read."""
    try:
        with open(path, "rb") as stream:
            major, _ = np.lib.format.read_magic(stream)
            size = int.from_bytes(stream.read(2 if major == 1 else 4), "little")
            header = ast.literal_eval(stream.read(size).decode("latin1" if major < 3 else "utf8"))
        return [entry[0] if isinstance(entry[0], str) else entry[0][1] for entry in header["descr"]]
    except Exception:
        return None


# What numpy raises on a damaged .npy or .npz: a short or unparsable file, a bad zip (CRC, an
# unsupported compression, a password), a header that declares more rows than memory holds.
NUMPY_READ_ERRORS = (
    ValueError,
    EOFError,
    OSError,
    KeyError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    RuntimeError,
    MemoryError,
)


def _numpy_columns(path: Path, columns: tuple[str, str]) -> list[np.ndarray]:
    npz = path.suffix.lower() == ".npz"
    with open(path, "rb") as stream:
        magic = stream.read(len(NPY_MAGIC))
    if npz and not magic.startswith(ZIP_MAGICS):
        if magic == NPY_MAGIC:
            raise InvalidValue(f"{file_named(path)} holds a .npy array, not an .npz archive of columns")
        raise InvalidValue(f"{file_named(path)} is not an .npz file (not a zip archive)")
    if not npz and magic != NPY_MAGIC:
        if magic.startswith(ZIP_MAGICS):
            raise InvalidValue(f"{file_named(path)} holds an .npz archive, not a .npy structured array")
        raise InvalidValue(f"{file_named(path)} is not a .npy file (no .npy header)")
    kind = ".npz" if npz else ".npy"
    try:
        loaded = np.load(path, allow_pickle=False)
    except NUMPY_READ_ERRORS as error:  # pickled object arrays, a damaged or truncated file
        names = None if npz else _npy_field_names(path)
        if names is not None and len(set(names)) < len(names):
            _check_columns(path, columns, names)
        raise unreadable(path, kind, error) from None
    if npz:
        with loaded:
            _check_columns(path, columns, loaded.files)
            try:
                return [loaded[column] for column in columns]
            except NUMPY_READ_ERRORS as error:
                raise unreadable(path, kind, error) from None
    present = loaded.dtype.names
    if not present:
        raise InvalidValue(
            f"{file_named(path)} holds a {loaded.dtype} array of shape {loaded.shape}, not a "
            f"structured array with fields {columns[0]!r} and {columns[1]!r}"
        )
    _check_columns(path, columns, present)
    return [loaded[column] for column in columns]


def _first_bad(path: Path, bad: np.ndarray, column: str, values: np.ndarray, why: str) -> None:
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidValue(f"{file_named(path)}, row {row + 1}: {column}={cut_shown(values[row])} {why}")


def first_non_number(values: np.ndarray) -> int:
    """The row of the first value that is no number (a text column's first row may hold one)."""
    for row, value in enumerate(values):
        try:
            float(value)
        except (TypeError, ValueError, OverflowError):
            return row
    return 0


def check_file(path: Path) -> None:
    """Refuse what is no predictions file before reading a byte: its extension names no format, it
    is missing, unreadable, a directory or other non-regular file, or empty."""
    if path.suffix.lower() not in FORMATS:
        raise InvalidValue(
            f"{file_named(path)}: the extension {path.suffix!r} is not one of: {', '.join(FORMATS)}"
        )
    try:
        mode = path.stat()
    except FileNotFoundError:
        raise InvalidValue(f"{file_named(path)} does not exist") from None
    except OSError as error:
        raise InvalidValue(f"{file_named(path)} cannot be read ({error.strerror})") from None
    if stat.S_ISDIR(mode.st_mode):
        raise InvalidValue(f"{file_named(path)} is a directory, not a file")
    if not stat.S_ISREG(mode.st_mode):
        raise InvalidValue(f"{file_named(path)} is not a regular file")
    if mode.st_size == 0:
        raise InvalidValue(f"{file_named(path)} is empty")


def _read_columns(path: Path, columns: tuple[str, str]) -> list[np.ndarray]:
    """The two columns, read by the format's reader (pyarrow or numpy); a permission refused while
    reading is one line too."""
    try:
        if path.suffix.lower() in (".csv", ".parquet"):
            return _arrow_columns(path, columns)
        return _numpy_columns(path, columns)
    except PermissionError as error:
        raise InvalidValue(f"{file_named(path)} cannot be read ({error.strerror})") from None


def _check_shapes_and_kinds(
    path: Path, columns: tuple[str, str], labels: np.ndarray, scores: np.ndarray
) -> None:
    """Both columns are 1-D, of one non-zero length, and real numbers: checked before any value is,
    so that a cast to float neither drops an imaginary part nor fails on text."""
    label, score = columns
    if labels.ndim != 1 or scores.ndim != 1 or labels.size == 0:
        raise InvalidValue(
            f"{file_named(path)}: columns {label!r} and {score!r} must be 1-D and not empty; "
            f"got shapes {labels.shape} and {scores.shape}"
        )
    if labels.size != scores.size:
        raise InvalidValue(
            f"{file_named(path)}: columns {label!r} and {score!r} differ in length "
            f"({labels.size} and {scores.size} rows)"
        )
    for column, values in ((label, labels), (score, scores)):
        if values.dtype.kind == "c":  # a cast to float would drop the imaginary part
            raise InvalidValue(f"{file_named(path)}: column {column!r} holds complex numbers, not real ones")
        if values.dtype.kind not in "biuf":  # text, bytes, dates, durations, objects
            row = first_non_number(values)
            raise InvalidValue(
                f"{file_named(path)}, row {row + 1}: {column}={cut_shown(values[row])} is not a number"
            )


def _probabilities(path: Path, score: str, scores: np.ndarray, from_logits: bool) -> np.ndarray:
    """The scores as float32 probabilities, as Keras casts them: logits through the logistic
    function, probabilities checked to lie in [0, 1]; the first bad value stops with its row."""
    scores = scores.astype(np.float64, copy=False)
    if from_logits:
        _first_bad(path, ~np.isfinite(scores), score, scores, "is not a finite logit")
        from scipy import special  # a fifth of a second of start-up that most commands skip

        probabilities: np.ndarray = special.expit(scores).astype(np.float32)
        return probabilities
    row = first_non_probability(scores)
    if row is not None:
        why = f"{NOT_A_PROBABILITY} (from_logits=true for logits)"
        raise InvalidValue(f"{file_named(path)}, row {row + 1}: {score}={cut_shown(scores[row])} {why}")
    return scores.astype(np.float32)


def load_predictions(
    path: str | os.PathLike[str],
    *,
    label: str = "label",
    score: str = "score",
    from_logits: bool = False,
    start_dir: str | os.PathLike[str] | None = None,
) -> Predictions:
    """Read and validate a predictions file (a relative ``path`` is taken from ``start_dir``, else
    the current directory)."""
    path = Path(start_dir or os.getcwd()) / Path(path).expanduser()
    check_file(path)
    if label == score:
        raise InvalidValue(f"the label and score columns are both {label!r}: give two columns")
    columns = (label, score)
    labels, scores = _read_columns(path, columns)
    _check_shapes_and_kinds(path, columns, labels, scores)
    if labels.dtype != bool:
        _first_bad(path, (labels != 0) & (labels != 1), label, labels, "is not 0 or 1")
    probabilities = _probabilities(path, score, scores, from_logits)
    return Predictions(
        path=str(path.resolve()),
        label_column=label,
        score_column=score,
        from_logits=bool(from_logits),
        digest=file_digest(path),
        labels=labels.astype(bool),
        scores=probabilities,
    )


def predictions_from_arrays(
    labels: ArrayLike,
    scores: ArrayLike,
    *,
    name: str = "in-memory predictions",
    names: tuple[str, str] = ("labels", "scores"),
) -> Predictions:
    """Predictions held in memory: 0/1 ``labels`` and probability ``scores`` of one length, checked
    as a file's are (the first bad value as ``labels[i]=...``, with ``names`` the arrays' names).
    ``name`` stands where a file's path would; the digest is that of the values (labels as bytes,
    then the float32 scores)."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    label_name, score_name = names
    if labels.ndim != 1 or labels.shape != scores.shape or labels.size == 0:
        raise InvalidValue(
            f"{label_name} and {score_name} must be 1-D, of one length and not empty; "
            f"got shapes {labels.shape} and {scores.shape}"
        )
    for column, values in ((label_name, labels), (score_name, scores)):
        if values.dtype.kind not in "biuf":
            raise InvalidValue(f"{column}[0]={cut_shown(values[0])} is not a number")
    if labels.dtype != bool:
        bad = (labels != 0) & (labels != 1)
        if bad.any():
            row = int(np.argmax(bad))
            raise InvalidValue(f"{label_name}[{row}]={cut_shown(labels[row])} is not 0 or 1")
    outside = first_non_probability(scores.astype(np.float64, copy=False))  # before the cast, as a file's
    if outside is not None:
        raise InvalidValue(f"{score_name}[{outside}]={cut_shown(scores[outside])} {NOT_A_PROBABILITY}")
    labels, scores = labels.astype(bool), scores.astype(np.float32)
    digest = hashlib.sha256(labels.tobytes() + scores.tobytes()).hexdigest()[:DIGEST_LENGTH]
    return Predictions(
        path=name,
        label_column="label",
        score_column="score",
        from_logits=False,
        digest=digest,
        labels=labels,
        scores=scores,
    )
