"""Refusing, before anything in it is touched, a file that is not a usable pzjudge database:
a folder, a FIFO, a read-only or foreign file, a damaged one, one written by a newer pzjudge."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from store.errors import StoreError
from store.migrations import KNOWN, SCHEMA_VERSION, inspect

SQLITE_HEADER = b"SQLite format 3\x00"


def check_file(path: Path, *, create: bool = True, make_dirs: bool = False) -> None:
    """Refuse, without writing to it, a file that is not a usable pzjudge database.

    A missing file is created only with `create`; its folder only with `make_dirs` (the
    default data directory), so a mistyped --db does not scatter databases about.
    """
    if path.is_dir():
        raise StoreError(f"{path} is a directory; give a database file path (--db or PZJUDGE_DB)")
    if not path.exists():
        if not create:
            raise StoreError(
                f"no pzjudge database at {path}; check --db or PZJUDGE_DB "
                "(play or run a debate first)"
            )
        if make_dirs:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create {path.parent} ({exc.strerror}); choose another path"
                ) from None
        elif not path.parent.is_dir():
            raise StoreError(
                f"folder {path.parent} does not exist; create it or choose another path "
                "(--db or PZJUDGE_DB)"
            )
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise StoreError(f"cannot create a database in {path.parent} (not writable)")
        return
    if not path.is_file():
        # a FIFO, socket or device: opening it to read the header would block or consume it
        raise StoreError(
            f"{path} is not a regular file; give a database file path (--db or PZJUDGE_DB)"
        )
    if not os.access(path, os.W_OK):
        raise StoreError(f"{path} is read-only; make it writable or copy it elsewhere")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        # WAL needs its -wal and -shm files next to the database
        raise StoreError(f"cannot write in {path.parent}, the folder of {path}; check it")
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read {path} ({exc.strerror}); check its permissions") from None
    if not head:
        if not create:
            # export and stats only read: an empty file is a mistyped path, not a database
            # to set up (which would write the schema into it)
            raise StoreError(
                f"{path} is an empty file, not a pzjudge database; check --db or PZJUDGE_DB"
            )
        return  # an empty file is an empty SQLite database
    if head != SQLITE_HEADER:
        raise StoreError(
            f"{path} is not a SQLite database; choose a pzjudge database or a new file "
            "(--db or PZJUDGE_DB)"
        )
    # Without a -wal file all content is in the main file: read it as immutable, so that
    # not even a -shm file is created next to a file we may refuse.
    wal = path.with_name(path.name + "-wal").exists()
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("" if wal else "&immutable=1")
    try:
        ro = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path} ({exc}); check the file and its folder") from None
    try:
        state = inspect(ro)
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path} is damaged ({exc}); restore a backup or choose another file"
        ) from None
    finally:
        ro.close()
    refuse(path, state.kind, state.version, state.applied, state.tables)


def refuse(
    path: Path, kind: str, version: int, applied: tuple[str, ...], tables: frozenset[str]
) -> None:
    """Raise a StoreError for a foreign file or one of a newer schema (what `inspect` found)."""
    if kind == "foreign" and {"assignments", "participants", "items"} <= tables:
        raise StoreError(
            f"{path} is a study database (from pzjudge study build), not a game's: take it "
            f"with pzjudge play --study {path}, or read it with pzjudge study status|report"
        )
    if kind == "foreign":
        names = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise StoreError(
            f"{path} is not a pzjudge database (it holds tables {names}); "
            "choose another file with --db or PZJUDGE_DB"
        )
    unknown = [a for a in applied if a not in KNOWN]
    if version > SCHEMA_VERSION or unknown:
        raise StoreError(
            f"{path} was written by a newer pzjudge (schema version {max(version, len(applied))}"
            f", this one knows {SCHEMA_VERSION}); upgrade pzjudge to open it"
        )
