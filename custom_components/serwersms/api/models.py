"""Typed results of SerwerSMS API calls, parsed defensively from the gateway's JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .exceptions import SerwerSmsError, SerwerSmsResponseError


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

    @property
    def available(self) -> bool:
        """Whether the account has this service at all (`not_available` says it has not)."""
        return self.raw_value != "not_available"

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


def limit_of(limits: list[Limit], type: str) -> Limit | None:  # noqa: A002
    """The limit of one service (`mms`, `eco`, `full`, `voice`, `hlr`), or None when none is listed.

    A listed `not_available` (the account has no such service) is returned as it is: `value` None,
    `available` False.
    """
    return next((limit for limit in limits if limit.type == type), None)


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

_MIN_SUFFIX_DIGITS = 5
_UNREADABLE = "the gateway's answer for this number could not be read; it may have been sent"


@dataclass(frozen=True, slots=True)
class RecipientResult:
    """What happened to one recipient of a send."""

    phone: str
    status: str
    id: str | None = None
    error_code: int | None = None
    error_message: str | None = None

    @classmethod
    def from_json(cls, item: dict[str, Any], phone: str) -> RecipientResult:
        """Read one send item for `phone`: `queued` or `unsent` as the gateway said, else `unknown`.

        The gateway accepted the request, so a number whose item cannot be read may have been sent.
        """
        status = item.get("status")
        if status == QUEUED:
            return cls(phone, QUEUED, id=_loose_text(item.get("id")))
        if status == UNSENT:
            return cls(
                phone,
                UNSENT,
                None,
                _loose_int(item.get("error_code")),
                _loose_text(item.get("error_message")),
            )
        return cls(phone, UNKNOWN, None, None, _UNREADABLE)


def _loose_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _loose_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


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


def _digits(phone: object) -> str:
    return "".join(c for c in phone if "0" <= c <= "9") if isinstance(phone, str) else ""


def _same_number(asked: str, answered: str) -> bool:
    """Whether the gateway's spelling `answered` names the number `asked` (it may drop `+48`)."""
    if not answered:
        return False
    if asked == answered:
        return True
    # A suffix match stands only for a real subscriber number, not for a stray digit or two.
    shorter = min(len(asked), len(answered))
    return shorter >= _MIN_SUFFIX_DIGITS and (asked.endswith(answered) or answered.endswith(asked))


def parse_send(reply: dict[str, Any], phones: list[str]) -> SendResult:
    """Read a `messages/send_mms` reply for the batch `phones`, keeping input order.

    The gateway accepted the request (errors are raised before this), so this never fails: a number
    the reply does not clearly account for is `unknown` (it may have been sent), never dropped.
    """
    items = reply.get("items")
    if not isinstance(items, list) or not items:
        # Without details the gateway only counts; only a full count says who was queued.
        queued, unsent = reply.get("queued"), reply.get("unsent", 0)
        if _loose_int(queued) == len(phones) and _loose_int(unsent) in (0, None):
            return SendResult(tuple(RecipientResult(phone, QUEUED) for phone in phones))
        return SendResult(tuple(RecipientResult(phone, UNKNOWN, None, None, _UNREADABLE) for phone in phones))
    asked = [_digits(phone) for phone in phones]
    if len(items) == len(phones) and all(
        isinstance(item, dict) and ("phone" not in item or _same_number(number, _digits(item["phone"])))
        for item, number in zip(items, asked, strict=True)
    ):
        return SendResult(
            tuple(RecipientResult.from_json(item, phone) for item, phone in zip(items, phones, strict=True))
        )
    # Fewer, more or reordered items: match them by number, and only where that is unambiguous.
    found: dict[int, RecipientResult] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        answered = _digits(item.get("phone"))
        matches = [i for i, number in enumerate(asked) if i not in found and _same_number(number, answered)]
        if len(matches) == 1:
            found[matches[0]] = RecipientResult.from_json(item, phones[matches[0]])
    return SendResult(
        tuple(
            found.get(i) or RecipientResult(phone, UNKNOWN, None, None, _UNREADABLE)
            for i, phone in enumerate(phones)
        )
    )


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """One send request (at most 100 numbers): the gateway's answer, or the error that ended it."""

    phones: tuple[str, ...]
    result: SendResult | None = None
    error: SerwerSmsError | None = None


# Gateway report statuses, and what each means for the sender (see the contract's "Delivery").
DELIVERED = "delivered"
UNDELIVERED = "undelivered"
_FINAL_STATUSES = {"delivered": DELIVERED, "undelivered": UNDELIVERED, "unsent": UNDELIVERED}


def _report_text(value: object) -> str | None:
    """A report field as text; anything empty or of an odd type counts as missing."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


@dataclass(frozen=True, slots=True)
class Report:
    """Delivery report of one message: the gateway's `status` and `reason` as given (missing: None)."""

    id: str
    phone: str | None
    status: str | None
    reason: str | None

    @property
    def outcome(self) -> str | None:
        """`delivered` or `undelivered` once the report is final; None while the MMS is on its way.

        `in_progress`, `sent`, `saved`, `queued` and statuses the gateway may add later are not final.
        """
        return None if self.status is None else _FINAL_STATUSES.get(self.status.lower())

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Report | None:
        """Parse one `messages/reports` item; None for an item without a message id (nothing to match)."""
        message_id = _report_text(item.get("id"))
        if message_id is None:
            return None
        return cls(
            id=message_id,
            phone=_report_text(item.get("phone")),
            status=_report_text(item.get("status")),
            reason=_report_text(item.get("reason")),
        )


def parse_reports(reply: dict[str, Any]) -> list[Report]:
    """Parse the reply of `messages/reports`, skipping items that name no message."""
    return [report for item in _items(reply) if (report := Report.from_json(item)) is not None]


GATEWAY_TIMEZONE = ZoneInfo("Europe/Warsaw")


def _mended(text: str) -> str:
    """`text`, with UTF-8 that was read as Latin-1 or Windows-1252 on its way (`Å¼Ã³w`) read right.

    Only when every character maps to one byte and those bytes are valid UTF-8: Polish text that
    arrived intact (`żółw`, or a lone `ó`) never does.
    """
    if text.isascii():
        return text
    for codec in ("latin-1", "cp1252"):
        try:
            return text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    return text


def _gateway_moment(value: object) -> datetime | None:
    """A gateway time (Warsaw local, `YYYY-MM-DD HH:MM:SS`) as an aware datetime; None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=GATEWAY_TIMEZONE)


@dataclass(frozen=True, slots=True)
class Received:
    """One incoming message (`messages/recived`): for an ECO reply, `message_id` is the SMS it answers."""

    id: str
    type: str
    phone: str
    received_at: datetime | None
    message_id: str | None
    text: str

    @classmethod
    def from_json(cls, item: dict[str, Any], default_type: str = "eco") -> Received | None:
        """Parse one item; None for one without an id (nothing to remember it by). Never raises."""
        message_id = _report_text(item.get("id"))
        if message_id is None:
            return None
        text = item.get("text")
        return cls(
            id=message_id,
            type=_report_text(item.get("type")) or default_type,
            phone=_report_text(item.get("phone")) or "",
            received_at=_gateway_moment(item.get("recived", item.get("received"))),
            message_id=_report_text(item.get("message_id")),
            text=_mended(text) if isinstance(text, str) else (_report_text(text) or ""),
        )


@dataclass(frozen=True, slots=True)
class ReceivedPage:
    """One page of `messages/recived`: `page` of `pages` (1-based)."""

    items: tuple[Received, ...]
    page: int
    pages: int


def parse_received(reply: dict[str, Any], *, page: int = 1, default_type: str = "eco") -> ReceivedPage:
    """Parse a `messages/recived` reply, tolerating any shape: odd items are skipped, never raised.

    `paging` (`{"page": 1, "count": N}`, `count` being the number of pages) is read when present;
    without it the reply is the only page.
    """
    items = reply.get("items")
    received = tuple(
        parsed
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and (parsed := Received.from_json(item, default_type)) is not None
    )
    paging = reply.get("paging")
    if not isinstance(paging, dict):
        return ReceivedPage(received, page, page)
    current = _loose_int(paging.get("page"))
    current = current if current is not None and current >= 1 else page
    pages = _loose_int(paging.get("count"))
    return ReceivedPage(received, current, max(current, pages if pages is not None else current))
