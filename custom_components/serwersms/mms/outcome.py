"""What one send did (`MmsOutcome`), and the one place a finished send is announced.

Direct sends (the pipeline) and deferred ones (the outbox) both end here: the account's listeners
(credits, repair issues, delivery tracking) are told, then `serwersms_mms_sent` is fired.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
import logging
from typing import Any

from homeassistant.core import Context, HomeAssistant, callback

from ..api import QUEUED, RecipientResult
from ..const import EVENT_MMS_SENT
from .channels import MMS, REPORT_MMS, FallbackPlan
from .deferred import DEFERRED
from .uploads import UploadedFile

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MmsOutcome:
    """What one run of the pipeline did: every number's outcome and the files the MMS carried.

    `recipients` are in the order the numbers were given (normalised, each number once); a queued
    number carries the gateway's message id. `files` are the pictures this send uploaded or reused,
    `file_ids` every file the MMS carried (those plus the caller's `file_id`s).
    """

    entry_id: str
    title: str
    test: bool
    date: datetime | None
    recipients: tuple[RecipientResult, ...]
    files: tuple[UploadedFile, ...]
    file_ids: tuple[str, ...]
    deferred: bool = False
    recipient_ids: tuple[str, ...] = ()
    frames: tuple[tuple[str, int], ...] = ()  # frames each camera gave, when more than one was asked
    channel: str = MMS
    report_type: str = REPORT_MMS  # what `messages/reports` files it under
    fallback: FallbackPlan | None = None  # what follows for numbers the MMS does not reach
    is_fallback: bool = False  # this send is itself a fallback
    message: str | None = None
    # per camera: the buffered frames its pictures start with, and when the oldest was taken (`lookback`)
    lookback: tuple[tuple[str, tuple[int, datetime | None]], ...] = ()

    @property
    def queued(self) -> int:
        """How many numbers the gateway accepted."""
        return sum(1 for item in self.recipients if item.status == QUEUED)

    @property
    def unsent(self) -> int:
        """How many numbers were not accepted (refused, or with an unknown outcome)."""
        return sum(1 for item in self.recipients if item.status not in (QUEUED, DEFERRED))

    @property
    def waiting(self) -> int:
        """How many numbers wait in the outbox (the gateway could not be reached)."""
        return sum(1 for item in self.recipients if item.status == DEFERRED)

    def response(self, phones: Sequence[str] | None = None) -> dict[str, Any]:
        """The contract's response object for the normalised `phones`, in their order (default: all)."""
        if phones is None:
            chosen = list(self.recipients)
        else:
            by_phone = {r.phone: r for r in self.recipients}
            chosen = [by_phone[phone] for phone in dict.fromkeys(phones) if phone in by_phone]
        queued = sum(1 for r in chosen if r.status == QUEUED)
        deferred = sum(1 for r in chosen if r.status == DEFERRED)
        response: dict[str, Any] = {
            "queued": queued,
            "unsent": len(chosen) - queued - deferred,
            "recipients": [_recipient_response(r) for r in chosen],
        }
        if self.channel == MMS:
            response["files"] = [f.as_dict() for f in self.files]
        if deferred:
            response["deferred"] = deferred
        if self.frames:
            response["frames"] = dict(self.frames)
        if self.lookback:
            response["lookback"] = {
                camera: {"frames": frames, "since": since.isoformat() if since else None}
                for camera, (frames, since) in self.lookback
            }
        return response

    def event_data(self) -> dict[str, Any]:
        """The `serwersms_mms_sent` event's data (no secrets: numbers, ids and counts only)."""
        return {
            "entry_id": self.entry_id,
            "channel": self.channel,
            "fallback": self.is_fallback,
            "title": self.title,
            "queued": self.queued,
            "unsent": self.unsent,
            "test": self.test,
            "deferred": self.deferred,
            "file_ids": list(self.file_ids),
            "recipients": [
                {"phone": r.phone, "status": r.status, "id": r.id, "error_code": r.error_code}
                for r in self.recipients
            ],
        }


def _recipient_response(item: RecipientResult) -> dict[str, Any]:
    if item.status == QUEUED:
        return {"phone": item.phone, "status": item.status, "id": item.id}
    if item.status == DEFERRED:
        return {"phone": item.phone, "status": item.status}
    return {
        "phone": item.phone,
        "status": item.status,
        "error_code": item.error_code,
        "error": item.error_message,
    }


type SendListener = Callable[[MmsOutcome], None]


class SendAnnouncer:
    """Tells the account's listeners, then the bus, about every finished send (direct or deferred)."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Announce on `hass`'s bus."""
        self._hass = hass
        self._listeners: list[SendListener] = []

    @callback
    def async_add_listener(self, listener: SendListener) -> Callable[[], None]:
        """Call `listener(outcome)` after every finished send; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def announce(self, outcome: MmsOutcome, context: Context | None = None) -> None:
        """Tell the listeners, then fire `serwersms_mms_sent` (with the caller's `context`)."""
        for listener in list(self._listeners):
            try:
                listener(outcome)
            except Exception:
                _LOGGER.exception("A send listener failed")
        self._hass.bus.async_fire(EVENT_MMS_SENT, outcome.event_data(), context=context)
