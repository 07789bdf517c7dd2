"""The ways one account reaches a phone: MMS, SMS and a phone call — and the fallback between them.

A send names its channel; the pipeline, the outbox, the spending guard and delivery tracking treat the
three alike (one request per batch, never sent twice, deferred when the gateway cannot be reached,
counted, followed to a final report). Only what goes into the request and which report type the gateway
files it under differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MMS: Final = "mms"
SMS: Final = "sms"
CALL: Final = "call"
CHANNELS: Final = (MMS, SMS, CALL)
FALLBACK_CHANNELS: Final = (SMS, CALL)

# `messages/reports` files messages by type: an SMS from the shared pool of numbers is `eco`, one with
# a registered sender name `full`, a call `voice`.
REPORT_MMS: Final = "mms"
REPORT_ECO: Final = "eco"
REPORT_FULL: Final = "full"
REPORT_VOICE: Final = "voice"

# `fallback_after`: how long an MMS has to be delivered before the fallback goes (seconds).
MIN_FALLBACK_AFTER: Final = 60
MAX_FALLBACK_AFTER: Final = 3600
DEFAULT_FALLBACK_AFTER: Final = 300


@dataclass(frozen=True, slots=True)
class TextOptions:
    """How an SMS goes: `sender` is the account's registered sender name (None: ECO, repliable)."""

    flash: bool = False
    priority: bool = False
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class FallbackPlan:
    """What goes to a number whose MMS is not delivered: `text` by `channel`, once, after `after_s`."""

    channel: str
    after_s: float
    text: str


def report_type(channel: str, sender: str | None = None) -> str:
    """The `messages/reports` type a message of `channel` is filed under."""
    if channel == SMS:
        return REPORT_FULL if sender else REPORT_ECO
    if channel == CALL:
        return REPORT_VOICE
    return REPORT_MMS


def fallback_text(title: str, message: str | None) -> str:
    """The MMS's title and message as one text (an SMS or a call says both)."""
    return f"{title}: {message}" if message else title


def text_title(message: str, limit: int) -> str:
    """What stands for an SMS's or a call's title in events: its first line, shortened to `limit`."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"
