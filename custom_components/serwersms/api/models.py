"""Typed results of SerwerSMS API calls, parsed defensively from the gateway's JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .exceptions import SerwerSmsResponseError


def _str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        raise SerwerSmsResponseError(f"expected text, got {type(value).__name__}")
    if isinstance(value, (int, float)):
        return str(value)
    raise SerwerSmsResponseError(f"expected text, got {type(value).__name__}")


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _int(value: object, default: int | None = None) -> int:
    if isinstance(value, bool):
        raise SerwerSmsResponseError("expected a number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    if value is None and default is not None:
        return default
    raise SerwerSmsResponseError(f"expected a number, got {type(value).__name__}")


def _items(reply: dict[str, Any], key: str = "items") -> list[dict[str, Any]]:
    items = reply.get(key, [])
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise SerwerSmsResponseError(f"'{key}' is not a list of objects")
    return items


@dataclass(frozen=True, slots=True)
class Limit:
    """One line of `account/limits`: `value` is a number or None (`no_limit`/`not_available`)."""

    type: str
    value: int | None
    raw_value: str
    chars_limit: str | None

    @property
    def unlimited(self) -> bool:
        """Whether the account has no limit of this type."""
        return self.raw_value == "no_limit"

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Limit:
        """Parse one `account/limits` item."""
        raw = _str(item.get("value"))
        try:
            value: int | None = int(float(raw))
        except ValueError:
            value = None
        return cls(
            type=_str(item.get("type")),
            value=value,
            raw_value=raw,
            chars_limit=_opt_str(item.get("chars_limit")),
        )


def parse_limits(reply: dict[str, Any]) -> list[Limit]:
    """Parse the reply of `account/limits`."""
    return [Limit.from_json(item) for item in _items(reply)]


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A file stored on the gateway."""

    id: str
    name: str
    size: int
    type: str
    date: str | None

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> FileInfo:
        """Parse a `files/index` or `files/view` item."""
        return cls(
            id=_str(item.get("id")),
            name=_str(item.get("name", "")),
            size=_int(item.get("size"), 0),
            type=_str(item.get("type", "mms")),
            date=_opt_str(item.get("date")),
        )


def parse_files(reply: dict[str, Any]) -> list[FileInfo]:
    """Parse the reply of `files/index`."""
    return [FileInfo.from_json(item) for item in _items(reply)]


def parse_file_id(reply: dict[str, Any]) -> str:
    """Parse the reply of `files/add`."""
    file_id = reply.get("id")
    if not isinstance(file_id, str) or not file_id:
        raise SerwerSmsResponseError("files/add returned no file id")
    return file_id


QUEUED = "queued"
UNSENT = "unsent"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """What happened to one recipient of a send."""

    phone: str
    status: str
    id: str | None = None
    error_code: int | None = None
    error_message: str | None = None

    @classmethod
    def from_json(cls, item: dict[str, Any], phone: str | None = None) -> RecipientResult:
        """Parse one send item; `phone` overrides the gateway's spelling of the number."""
        code = item.get("error_code")
        return cls(
            phone=phone if phone is not None else _str(item.get("phone", "")),
            status=_str(item.get("status", UNSENT)),
            id=_opt_str(item.get("id")),
            error_code=None if code is None else _int(code),
            error_message=_opt_str(item.get("error_message")),
        )


@dataclass(frozen=True, slots=True)
class SendResult:
    """The merged outcome of one send: per-recipient results in input order."""

    recipients: tuple[RecipientResult, ...]

    @property
    def queued(self) -> int:
        """How many recipients the gateway accepted."""
        return sum(1 for item in self.recipients if item.status == QUEUED)

    @property
    def unsent(self) -> int:
        """How many recipients were not accepted (refused, or outcome unknown)."""
        return len(self.recipients) - self.queued


def parse_send(reply: dict[str, Any], phones: list[str]) -> SendResult:
    """Parse a `messages/send_mms` reply for the batch `phones`, keeping input order."""
    items = _items(reply)
    if len(items) == len(phones):
        return SendResult(
            tuple(RecipientResult.from_json(item, phone) for item, phone in zip(items, phones, strict=True))
        )
    if not items:
        # Without details the gateway only counts; every phone of an accepted batch is queued.
        queued = _int(reply.get("queued"), 0)
        if queued == len(phones):
            return SendResult(tuple(RecipientResult(phone=phone, status=QUEUED) for phone in phones))
    raise SerwerSmsResponseError("send reply does not list every recipient")


@dataclass(frozen=True, slots=True)
class Report:
    """Delivery report of one message."""

    id: str
    phone: str
    status: str
    reason: str | None

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Report:
        """Parse one `messages/reports` item."""
        return cls(
            id=_str(item.get("id")),
            phone=_str(item.get("phone", "")),
            status=_str(item.get("status", "")),
            reason=_opt_str(item.get("reason")),
        )


def parse_reports(reply: dict[str, Any]) -> list[Report]:
    """Parse the reply of `messages/reports`."""
    return [Report.from_json(item) for item in _items(reply)]
