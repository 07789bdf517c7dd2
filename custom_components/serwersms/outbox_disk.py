"""The outbox's files: one deferred MMS a file, written so that a power cut loses nothing it promised.

Runs in the executor only (every function here blocks). No Home Assistant imports.

A waiting MMS is `<seq>.json` (its fitted pictures inside, base64). Every change is made durable before
anything depends on it: the file is written to a temporary name, flushed and fsynced, renamed, and then
the folder itself is fsynced (a rename lives in the folder; without that a power cut in the file
system's commit window can undo it). Right before its send request an MMS is renamed to `.sending`.

At start-up:
- `<seq>.sending` alone: Home Assistant stopped while that request was out; the MMS may have been
  sent, so it is reported `unknown` and never sent again;
- `<seq>.sending` and `<seq>.json` together: the power went after the numbers still to send were
  written back but before the mark was removed; the `.json` holds exactly those numbers (the others
  were announced already), so the mark is stale and only the `.json` counts.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from .mms.channels import CHANNELS, MMS, FallbackPlan, TextOptions
from .mms.deferred import DeferredMms, DeferredPicture

_LOGGER = logging.getLogger(__name__)

# 2: `budget_s`, `given_counted`; 3: `channel`, `sms`, `fallback`, `is_fallback` (an SMS or a call waits
# too). Older files are read as they were written: an MMS without a fallback.
FORMAT_VERSION = 3
WAITING = ".json"
SENDING = ".sending"
PARTIAL = ".tmp"


class UnreadableMmsError(ValueError):
    """A deferred MMS's file cannot be understood (damaged, or written by a newer version)."""


def path_of(folder: Path, seq: int, suffix: str) -> Path:
    """Where MMS `seq` is kept in `suffix`'s state."""
    return folder / f"{seq:012d}{suffix}"


def _fsync_dir(folder: Path) -> None:
    """Make the folder's entries (renames, new and deleted files) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_suffix(PARTIAL)
    with partial.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)


def encode(mms: DeferredMms, pictures: Sequence[DeferredPicture]) -> bytes:
    """The file's bytes for `mms` and its pictures."""
    return json.dumps(
        {
            "version": FORMAT_VERSION,
            "seq": mms.seq,
            "created": mms.created,
            "expires": mms.expires,
            "budget_s": mms.budget_s,
            "phones": mms.phones,
            "title": mms.title,
            "text": mms.text,
            "file_ids": mms.file_ids,
            "given_counted": mms.given_counted,
            "date": mms.date,
            "recipient_ids": list(mms.recipient_ids),
            "channel": mms.channel,
            "sms": {
                "flash": mms.text_options.flash,
                "priority": mms.text_options.priority,
                "sender": mms.text_options.sender,
            },
            "fallback": None
            if mms.fallback is None
            else {
                "channel": mms.fallback.channel,
                "after_s": mms.fallback.after_s,
                "text": mms.fallback.text,
            },
            "is_fallback": mms.is_fallback,
            "pictures": [
                {
                    "filename": p.filename,
                    "content_type": p.content_type,
                    "digest": p.digest,
                    "content": base64.b64encode(p.content).decode(),
                }
                for p in pictures
            ],
        }
    ).encode()


def decode(raw: bytes) -> tuple[DeferredMms, list[DeferredPicture]]:
    """`mms` and its pictures from a file's bytes; `UnreadableMmsError` when they cannot be trusted."""
    try:
        data: dict[str, Any] = json.loads(raw)
        version = int(data.get("version", 0))
    except (ValueError, TypeError, AttributeError) as err:
        raise UnreadableMmsError(repr(err)) from err
    if not 1 <= version <= FORMAT_VERSION:
        # Written by a newer version (a downgrade): its meaning is unknown, so it is not guessed at.
        raise UnreadableMmsError(f"format version {version} is not known")
    try:
        created = float(data["created"])
        expires = float(data["expires"])
        pictures = [
            DeferredPicture(
                base64.b64decode(p["content"], validate=True),
                str(p["filename"]),
                str(p["content_type"]),
                str(p["digest"]),
            )
            for p in data["pictures"]
        ]
        mms = DeferredMms(
            seq=int(data["seq"]),
            created=created,
            expires=expires,
            budget_s=float(data.get("budget_s", expires - created)),
            phones=[str(p) for p in data["phones"]],
            title=str(data["title"]),
            text=None if data["text"] is None else str(data["text"]),
            file_ids=[str(f) for f in data["file_ids"]],
            # Version 1 never counted the given files' sizes when the gateway could not list them.
            given_counted=bool(data.get("given_counted", not data["file_ids"])),
            date=None if data["date"] is None else float(data["date"]),
            recipient_ids=tuple(str(r) for r in data.get("recipient_ids", ())),
            channel=_channel(data.get("channel", MMS)),
            text_options=_text_options(data.get("sms")),
            fallback=_fallback(data.get("fallback")),
            is_fallback=bool(data.get("is_fallback", False)),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise UnreadableMmsError(repr(err)) from err
    return mms, pictures


def _channel(value: Any) -> str:
    if value not in CHANNELS:
        raise ValueError(f"unknown channel {value!r}")
    return str(value)


def _text_options(value: Any) -> TextOptions:
    if value is None:
        return TextOptions()
    sender = value.get("sender")
    return TextOptions(bool(value["flash"]), bool(value["priority"]), None if sender is None else str(sender))


def _fallback(value: Any) -> FallbackPlan | None:
    if value is None:
        return None
    return FallbackPlan(_channel(value["channel"]), float(value["after_s"]), str(value["text"]))


def store(folder: Path, mms: DeferredMms, pictures: Sequence[DeferredPicture]) -> None:
    """Keep `mms` waiting, durably, before the caller is told it was deferred."""
    new_folder = not folder.is_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if new_folder:
        _fsync_dir(folder.parent)
    _write_atomic(path_of(folder, mms.seq, WAITING), encode(mms, pictures))
    _fsync_dir(folder)


def read_pictures(folder: Path, mms: DeferredMms) -> list[DeferredPicture]:
    """`mms`'s pictures, read back from its file (`OSError` / `UnreadableMmsError` when it fails)."""
    return decode(path_of(folder, mms.seq, WAITING).read_bytes())[1]


def mark_sending(folder: Path, seq: int) -> None:
    """From now on the MMS may be out: durably, before its send request leaves.

    Its `.json` replaces any older mark. Without a `.json` (the numbers left could not be written
    back), the older mark stands: it names more numbers than are sent, so a restart reports them
    all unknown rather than sending any twice.
    """
    try:
        path_of(folder, seq, WAITING).replace(path_of(folder, seq, SENDING))
    except FileNotFoundError:
        if not path_of(folder, seq, SENDING).exists():
            raise
    _fsync_dir(folder)


def keep_for_later(folder: Path, mms: DeferredMms, pictures: Sequence[DeferredPicture]) -> None:
    """The numbers left (`mms.phones`) wait again; the `.sending` mark goes once they are on disk."""
    _write_atomic(path_of(folder, mms.seq, WAITING), encode(mms, pictures))
    _fsync_dir(folder)
    path_of(folder, mms.seq, SENDING).unlink(missing_ok=True)
    _fsync_dir(folder)


def delete(folder: Path, seq: int) -> None:
    """The MMS is done with (sent, reported, or given up)."""
    for suffix in (WAITING, SENDING):
        path_of(folder, seq, suffix).unlink(missing_ok=True)
    with contextlib.suppress(FileNotFoundError):
        _fsync_dir(folder)


def load(folder: Path) -> tuple[list[DeferredMms], list[DeferredMms], int]:
    """The waiting MMS, those whose send was interrupted, and the highest sequence number seen.

    Removes partial writes, stale marks and interrupted files (they are reported, never sent again).
    A file that cannot be read is kept aside (`.broken`) rather than deleted: it is logged, and a
    person can still look at it.
    """
    waiting: list[DeferredMms] = []
    interrupted: list[DeferredMms] = []
    highest = 0
    if not folder.is_dir():
        return waiting, interrupted, highest
    paths = sorted(folder.iterdir())  # `<seq>.json` before `<seq>.sending`
    readable: set[str] = set()  # the `.json` files read
    for path in paths:
        if path.suffix not in (WAITING, SENDING):
            if path.suffix == PARTIAL:
                path.unlink(missing_ok=True)  # a write cut short: it was never accepted
            continue
        if path.suffix == SENDING and path.with_suffix(WAITING).name in readable:
            path.unlink(missing_ok=True)  # written back before the power went: the .json counts
            continue
        try:
            mms = decode(path.read_bytes())[0]
        except (OSError, UnreadableMmsError) as err:
            _LOGGER.error("A deferred MMS in %s cannot be read (%s); it is set aside", path.name, err)  # noqa: TRY400
            with contextlib.suppress(OSError):
                path.replace(path.with_suffix(".broken"))
            continue
        highest = max(highest, mms.seq)
        if path.suffix == SENDING:
            # Alone, or beside a `.json` that cannot be read: it may have been sent; reported `unknown`.
            interrupted.append(mms)
        else:
            readable.add(path.name)
            waiting.append(mms)
    for path in paths:
        if path.suffix == ".broken":
            with contextlib.suppress(ValueError):
                highest = max(highest, int(path.stem))
    return waiting, interrupted, highest


def forget_interrupted(folder: Path, seqs: Sequence[int]) -> None:
    """Interrupted sends were reported: their marks go."""
    for seq in seqs:
        path_of(folder, seq, SENDING).unlink(missing_ok=True)
    if seqs:
        _fsync_dir(folder)


def remove_all(folder: Path) -> None:
    """The account is removed: its outbox goes with it."""
    if folder.is_dir():
        for path in folder.iterdir():
            path.unlink(missing_ok=True)
        folder.rmdir()
