"""What the send pipeline shares with the account's outbox, spending guard and storage clean-up.

The pipeline (`sender.py`) consults them through these small protocols, so it depends on no Home
Assistant module of the integration: the glue (`__init__.py`) wires the real ones in.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol

from .channels import MMS, FallbackPlan, TextOptions

# A number whose MMS waits in the outbox: the gateway could not be reached.
DEFERRED: Final = "deferred"


@dataclass(frozen=True, slots=True)
class DeferredPicture:
    """A fitted picture of a deferred MMS, ready to upload (`digest`: SHA-256 of `content`)."""

    content: bytes
    filename: str
    content_type: str
    digest: str


@dataclass(slots=True)
class DeferredMms:
    """One MMS waiting in the outbox; its pictures stay on disk until it is sent.

    `recipient_ids` are the recipients (subentry ids) it was sent for; empty for bare numbers.
    `date`, `created` and `expires` are POSIX timestamps, kept on disk; `budget_s` is how long it may
    wait in all. How long it has really waited is measured on the monotonic clock (`deadline`, in
    memory only): a wall clock set forward after boot must not expire an alarm that waited a minute.
    `given_counted`: the sizes of the caller's `file_ids` were counted in the budget when it was
    fitted (not when the gateway could not list them: they are counted before it goes out).
    """

    seq: int
    created: float
    expires: float
    phones: list[str]
    title: str
    text: str | None
    file_ids: list[str]
    date: float | None
    recipient_ids: tuple[str, ...] = ()
    budget_s: float = 0.0
    given_counted: bool = True
    channel: str = MMS  # an SMS or a call waits too (`text` is what it says)
    text_options: TextOptions = field(default_factory=TextOptions)
    fallback: FallbackPlan | None = None
    is_fallback: bool = False
    deadline: float = field(default=0.0, compare=False)
    sending: bool = field(default=False, compare=False)


class RetryLaterError(Exception):
    """A deferred MMS was not taken and nothing was carried out: keep it and try again later."""


class Reservation(Protocol):
    """MMS held against today's limit while one send is under way."""

    def commit(self, counted: Sequence[str]) -> None:
        """The send is over: the numbers in `counted` (queued, deferred or maybe sent) count."""

    def release(self) -> None:
        """Nothing (more) went out: give back what was not committed."""


class DailyLimit(Protocol):
    """The spending guard, as the pipeline sees it."""

    def reserve(self, phones: Sequence[str]) -> Reservation:
        """Hold one MMS for each of `phones`, or raise the translated `daily_limit_reached`."""

    async def async_save(self) -> None:
        """Store the count now (a send's call returns only once what it counted is on disk)."""


class UploadLedger(Protocol):
    """The storage clean-up, as the pipeline sees it."""

    def note_used(self, file_ids: Collection[str], until: datetime | None = None) -> None:
        """The integration's own uploads just used by a send (a scheduled one uses them `until`)."""

    def exempt(self, file_ids: Collection[str]) -> None:
        """Files that are the user's (`upload_file`, `file_id`): never delete them."""


class Deferrer(Protocol):
    """The outbox, as the pipeline sees it."""

    @property
    def enabled(self) -> bool:
        """Whether MMS are deferred now (`outbox_minutes` above 0)."""

    def take_place(self) -> int:
        """A place in the drain order, taken when a send starts (concurrent sends keep call order)."""

    async def async_defer(
        self,
        *,
        place: int,
        phones: list[str],
        title: str,
        text: str | None,
        pictures: Sequence[DeferredPicture],
        file_ids: list[str],
        given_counted: bool,
        date: datetime | None,
        recipient_ids: tuple[str, ...],
        channel: str = MMS,
        text_options: TextOptions | None = None,
        fallback: FallbackPlan | None = None,
        is_fallback: bool = False,
    ) -> None:
        """Keep an MMS (SMS, call), with its fitted pictures, on disk until the gateway answers again."""
