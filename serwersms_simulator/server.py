"""The simulator: the gateway's endpoints, its error shapes, its bookkeeping, and fault injection.

Endpoints: `account/limits`, `files/add|index|view|delete`, `messages/send_mms`, `messages/send_sms`,
`messages/send_voice`, `messages/reports` (`type` `mms`, `eco`, `full`, `voice`), `messages/delete`
and `messages/recived` (sic).

Special numbers (constructor arguments, with these defaults):
- `NO_MMS_NUMBER` +48500600796 (`no_mms_numbers`): its phone cannot take MMS: each MMS to it is queued,
  then reported `undelivered` with reason `unsupported_number`; SMS and calls to it are delivered.
- `NO_ANSWER_NUMBER` +48500600797 (`no_answer_numbers`): never picks up: each call to it is reported
  `undelivered` with reason `missed_call`; MMS and SMS to it are delivered.
- `undeliverable` (MMS), `undeliverable_sms` and `undeliverable_calls`: number → reason, that channel only.

Error codes this simulator chose where no source states them:
- 3000 no credits left for the SMS class or calls asked for (`eco`, `full`, `voice`; MMS keep 3004),
  3001 the account has no such service (its limit is `not_available`; MMS keep 3005);
- 2000 `speed` without a `sender`: the priority channel is FULL only, so the sender name it needs is
  a missing parameter;
- 3101 empty text; 3102 text too long: an SMS over 6 parts (402 characters with `utf`, 918 without),
  a call's text over `MAX_CALL_TEXT` (500, our own cap: the gateway publishes none);
- 1004 `messages/delete` of an id that is not scheduled (any more): unknown, sent or deleted before.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
import json
import logging
import math
import re
import secrets
import time
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import BodyPartReader, ClientSession, ClientTimeout, hdrs, web
from yarl import URL

from .inbox import render_inbox

_LOGGER = logging.getLogger(__name__)

WARSAW = ZoneInfo("Europe/Warsaw")
MAX_TITLE = 40
MAX_FILES = 10
MAX_PHONES = 100_000
MAX_REPORT_IDS = 500
MAX_OUTAGE_SECONDS = 3600.0
PHONE_RE = re.compile(r"^\+?\d{9,15}$")
MAX_CALL_TEXT = 500
MAX_SMS_PARTS = 6
NO_MMS_NUMBER = "+48500600796"
NO_ANSWER_NUMBER = "+48500600797"
# ECO SMS go out from the gateway's shared numbers; a reply to one arrives at that number.
ECO_NUMBERS = ("+48799000101", "+48799000102", "+48799000103")
NOT_AVAILABLE = "not_available"
NO_LIMIT = "no_limit"
SERVICES = ("eco", "full", "voice", "hlr")
DEFAULT_CREDITS: dict[str, int | str | None] = {"eco": 1000, "full": 1000, "voice": 100, "hlr": 100}
SEND_ENDPOINTS = frozenset({"messages/send_mms", "messages/send_sms", "messages/send_voice"})
REPORT_TYPES = ("mms", "eco", "full", "voice")
RECEIVED_TYPES = ("eco", "nd", "ndi", "mms")

_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)

ERROR_MESSAGES = {
    1001: ("InvalidUser", "Niepoprawny login lub hasło"),
    1002: ("NoAccess", "Brak dostępu do API"),
    1003: ("IpNotAllowed", "Adres IP nie ma dostępu"),
    1004: ("InvalidId", "Niepoprawne ID"),
    1006: ("InvalidFormat", "Niepoprawny format danych"),
    2000: ("MissingParameter", "Brak wymaganych parametrów"),
    3000: ("Limit", "Brak limitu wiadomości tego typu"),
    3001: ("Permission", "Brak uprawnień do wysyłki wiadomości tego typu"),
    3004: ("MmsLimit", "Brak limitu MMS"),
    3005: ("MmsPermission", "Brak uprawnień do wysyłki MMS"),
    3101: ("EmptyMessage", "Pusta wiadomość"),
    3102: ("MessageTooLong", "Wiadomość jest za długa"),
}


def sniff_content_type(content: bytes) -> str | None:
    """The gateway accepts gif, jpeg, png and plain text; judge by the bytes, never by the name."""
    for magic, content_type, _ in _MAGIC:
        if content.startswith(magic):
            return content_type
    if content and b"\x00" not in content:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


@dataclass
class StoredFile:
    """A file uploaded with files/add."""

    id: str
    name: str
    content: bytes
    content_type: str
    date: str

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.content)


@dataclass
class SentMms:
    """One MMS accepted for one recipient, and when its report moves on (gateway clock, epoch seconds).

    Reports follow the real gateway: `saved` until a scheduled time, then `in_progress` until
    `sent_at`, `sent` (handed to the network) until `final_at`, then `delivered` — or `undelivered`
    with `reason` when the number was chosen to fail.
    """

    id: str
    phone: str
    title: str
    text: str | None
    file_ids: list[str]
    scheduled: str | None
    request_index: int
    created: float
    sent_at: float
    final_at: float
    undelivered_reason: str | None = None
    unique_id: str | None = None

    def report(self, now: float) -> tuple[str, str | None]:
        """The report status (and reason) the gateway gives at `now`."""
        return _lifecycle(self, now)

    def is_scheduled(self, now: float) -> bool:
        """Whether it still waits for its scheduled time at `now` (`messages/delete` can remove it)."""
        return self.scheduled is not None and now < self.created


@dataclass
class SentSms:
    """One SMS accepted for one recipient: `type` `eco` (no sender: shared numbers, repliable) or `full`.

    `from_number`: the shared number an ECO SMS went out from (a reply arrives there). Reports move on
    as an MMS's do.
    """

    id: str
    phone: str
    text: str
    sender: str | None
    type: str
    flash: bool
    speed: bool
    utf: bool
    parts: int
    scheduled: str | None
    request_index: int
    created: float
    sent_at: float
    final_at: float
    undelivered_reason: str | None = None
    unique_id: str | None = None
    from_number: str | None = None

    def report(self, now: float) -> tuple[str, str | None]:
        """The report status (and reason) the gateway gives at `now`."""
        return _lifecycle(self, now)

    def is_scheduled(self, now: float) -> bool:
        """Whether it still waits for its scheduled time at `now`."""
        return self.scheduled is not None and now < self.created


@dataclass
class SentCall:
    """One phone call accepted for one recipient: `text` read out, or the recording `file_id` played."""

    id: str
    phone: str
    text: str | None
    file_id: str | None
    scheduled: str | None
    request_index: int
    created: float
    sent_at: float
    final_at: float
    undelivered_reason: str | None = None
    unique_id: str | None = None

    def report(self, now: float) -> tuple[str, str | None]:
        """The report status (and reason) the gateway gives at `now`."""
        return _lifecycle(self, now)

    def is_scheduled(self, now: float) -> bool:
        """Whether it still waits for its scheduled time at `now`."""
        return self.scheduled is not None and now < self.created


@dataclass
class ReceivedSms:
    """A message someone sent to the account: a reply to an ECO SMS (`message_id`) arrives as `eco`."""

    id: str
    type: str
    phone: str
    text: str
    message_id: str | None
    to_number: str | None
    received: float  # epoch seconds on the simulator's clock
    read: bool = False

    def item(self) -> dict[str, Any]:
        """As `messages/recived` lists it (`recived` in the gateway's local time)."""
        return {
            "id": self.id,
            "type": self.type,
            "phone": self.phone,
            "recived": _gateway_time(self.received),
            "message_id": self.message_id,
            "text": self.text,
            "to_number": self.to_number,
        }


type Sent = SentMms | SentSms | SentCall


def _lifecycle(message: Sent, now: float) -> tuple[str, str | None]:
    """`saved` until a scheduled time, `in_progress`, `sent`, then `delivered` or `undelivered`."""
    if now >= message.final_at:
        if message.undelivered_reason is not None:
            return "undelivered", message.undelivered_reason
        return "delivered", None
    if now >= message.sent_at:
        return "sent", None
    if message.scheduled is not None and now < message.created:
        return "saved", None
    return "in_progress", None


def _channel(message: Sent) -> str:
    return "mms" if isinstance(message, SentMms) else "sms" if isinstance(message, SentSms) else "call"


def _gateway_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, WARSAW).strftime("%Y-%m-%d %H:%M:%S")


def _number_key(phone: str) -> str:
    """The subscriber part of a number: `+48500600700`, `48500600700` and `500600700` are one phone."""
    digits = "".join(c for c in phone if c.isdigit())
    return digits[-9:] if len(digits) >= 9 else digits


def sms_parts(text: str, *, utf: bool) -> int:
    """How many parts the gateway splits an SMS into (70/67 characters with `utf`, else 160/153)."""
    single, part = (70, 67) if utf else (160, 153)
    return 1 if len(text) <= single else math.ceil(len(text) / part)


@dataclass
class RecordedRequest:
    """Everything one request carried (uploaded bytes in `files`)."""

    index: int
    endpoint: str
    auth: str | None
    fields: dict[str, Any]
    files: dict[str, bytes]
    headers: dict[str, str]
    fault: str | None = None
    processed: bool = False
    at: float = 0.0  # when it arrived, on the simulator's clock


@dataclass
class Fault:
    """Something to go wrong with one request.

    kind: `timeout` (hold the reply, do nothing), `hang_after` (do the work, then hold the reply),
    `status` (answer HTTP `status`; 429 carries `retry_after`), `reset` (drop the connection),
    `malformed` (do the work, answer broken JSON), `html` (an HTML error page with `status`),
    `error` (a gateway error body with `code`, HTTP 200), `reply` (do the work, then answer `body`:
    a JSON value, or a function of the real reply).
    """

    kind: str
    status: int = 500
    code: int = 1000
    retry_after: float | None = None
    hold: float = 3600.0
    body: Any = None


class _Reject(Exception):  # noqa: N818 - internal control flow, not an error type
    def __init__(self, code: int, message: str | None = None, *, status: int = 200) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, ("Error", "Błąd"))[1]
        self.status = status


def _error_body(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "type": ERROR_MESSAGES.get(code, ("Error", ""))[0], "message": message}}


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def _wall_clock() -> float:
    """Epoch seconds, looked up at each call so that a test's frozen clock (freezegun) applies."""
    return time.time()


def _opt_text(value: Any) -> str | None:
    """A text field as given, or None when it is missing or empty."""
    if value is None or value is False:
        return None
    text = str(value)
    return text or None


def _positive(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number >= 1 else default


def _gateway_epoch(value: Any) -> float | None:
    """A gateway time (`YYYY-MM-DD HH:MM:SS`, Warsaw) as epoch seconds; refused when unreadable."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as err:
        raise _Reject(1006, "Niepoprawny format daty") from err
    return parsed.replace(tzinfo=parsed.tzinfo or WARSAW).timestamp()


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"1", "true", "yes", "on"}


def _bound_port(site: web.TCPSite, asked: int) -> int:
    """The port a site listens on (the one the system chose when `asked` was 0)."""
    server = site._server  # noqa: SLF001 - the only way to learn an ephemeral port
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else asked


def _local_port(transport: asyncio.BaseTransport) -> int:
    return int(transport.get_extra_info("sockname")[1])


class SerwerSmsSimulator:
    """A SerwerSMS gateway on loopback that behaves like the real one, and records every request."""

    def __init__(
        self,
        *,
        token: str | None = "sim-token",
        username: str | None = "sim-user",
        password: str | None = "sim-password",
        credits: int | None | Mapping[str, int | str | None] = 1000,
        mms_allowed: bool = True,
        api_access: bool = True,
        ip_allowed: bool = True,
        bad_token_status: int = 401,
        latency: float = 0.0,
        sent_delay: float = 0.5,
        delivery_delay: float = 1.5,
        undeliverable: dict[str, str] | None = None,
        undeliverable_sms: dict[str, str] | None = None,
        undeliverable_calls: dict[str, str] | None = None,
        no_mms_numbers: Iterable[str] = (NO_MMS_NUMBER,),
        no_answer_numbers: Iterable[str] = (NO_ANSWER_NUMBER,),
        clock: Callable[[], float] | None = None,
        allow_url_fetch_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1"),
    ) -> None:
        """Configure the simulated account.

        Credits: an int (or None: `no_limit`) is the MMS credits, the other services get
        `DEFAULT_CREDITS`; a mapping gives each type its own (`{"mms": 1000, "eco": 1000, "full": 1000,
        "voice": 100}`): a number, None or `"no_limit"`, or `"not_available"` — as is a type left out.
        Each queued message costs one credit of its type (`eco`: SMS without a sender, `full`: with one,
        `voice`: a call); test sends cost nothing.

        Delivery: each queued message reports `in_progress`, after `sent_delay` seconds `sent`, after
        `delivery_delay` seconds its final status — `undelivered` with the given reason for the numbers
        in `undeliverable` (MMS), `undeliverable_sms`, `undeliverable_calls` (number → reason, e.g.
        `wrong_number`) and for the special numbers (`no_mms_numbers`: MMS `unsupported_number`;
        `no_answer_numbers`: calls `missed_call`), `delivered` otherwise. Delays are counted from the
        scheduled time for scheduled sends (`saved` until then), on `clock` (epoch seconds; tests move
        it with the freezer).
        """
        self.token = token
        self.username = username
        self.password = password
        if isinstance(credits, Mapping):
            given = dict(credits)
            mms = given.get("mms", NOT_AVAILABLE)
            self.type_credits: dict[str, int | str | None] = {
                kind: None if given.get(kind, NOT_AVAILABLE) == NO_LIMIT else given.get(kind, NOT_AVAILABLE)
                for kind in SERVICES
            }
        else:
            mms = credits
            self.type_credits = dict(DEFAULT_CREDITS)
        if mms == NOT_AVAILABLE:
            mms_allowed = False
        self.credits: int | None = mms if isinstance(mms, int) else None
        self.mms_limit_override: str | None = None
        self.mms_allowed = mms_allowed
        self.api_access = api_access
        self.ip_allowed = ip_allowed
        self.bad_token_status = bad_token_status
        self.latency = latency
        self.sent_delay = sent_delay
        self.delivery_delay = delivery_delay
        self.clock = clock or _wall_clock
        # The gateway may repeat a final report, within a reply and in later replies.
        self.repeat_reports = False
        self._final_reports: dict[str, dict[str, Any]] = {}
        self.allow_url_fetch_hosts = allow_url_fetch_hosts
        self.files: dict[str, StoredFile] = {}
        self.messages: list[SentMms] = []
        self.sms: list[SentSms] = []
        self.calls: list[SentCall] = []
        self.received: list[ReceivedSms] = []
        self.deleted: list[Sent] = []
        self.requests: list[RecordedRequest] = []
        self.undeliverable: dict[str, str] = dict(undeliverable or {})
        self.undeliverable_sms: dict[str, str] = dict(undeliverable_sms or {})
        self.undeliverable_calls: dict[str, str] = dict(undeliverable_calls or {})
        self.no_mms_numbers: set[str] = {_number_key(phone) for phone in no_mms_numbers}
        self.no_answer_numbers: set[str] = {_number_key(phone) for phone in no_answer_numbers}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        # Called with each request as it arrives, before the gateway acts on it (tests change state here).
        self.on_request: Callable[[RecordedRequest], None] | None = None
        self.in_flight: dict[str, int] = defaultdict(int)
        self.most_in_flight: dict[str, int] = defaultdict(int)
        self._runner: web.AppRunner | None = None
        self._holds: set[asyncio.Future[None]] = set()
        # Outages: the gateway port closes (connections refused) while the control port, if any, stays up.
        self._gateway: web.TCPSite | None = None
        self._gateway_address: tuple[str, int] | None = None
        self._control_port: int | None = None
        self._online = asyncio.Event()
        self._back_online: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Answer this many more processed sends, the last with `Connection: close`, then refuse connections.
        self.sends_until_outage: int | None = None
        self.url = ""
        self.control_url = ""
        self.app = self._make_app()

    # --- control ------------------------------------------------------------------------------

    def fail_next(self, endpoint: str, fault: Fault, times: int = 1) -> None:
        """Make the next `times` calls of `endpoint` (e.g. `messages/send_mms`, or `*`) go wrong."""
        self._faults[endpoint].extend([fault] * times)

    def clear_faults(self) -> None:
        """Forget every pending fault."""
        self._faults.clear()

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """Every request recorded for `endpoint`, in arrival order."""
        return [request for request in self.requests if request.endpoint == endpoint]

    @property
    def processed_sends(self) -> list[RecordedRequest]:
        """MMS send requests the gateway actually carried out (whatever the client then saw)."""
        return self.processed("messages/send_mms")

    def processed(self, endpoint: str) -> list[RecordedRequest]:
        """Requests to `endpoint` the gateway actually carried out (whatever the client then saw)."""
        return [r for r in self.requests_to(endpoint) if r.processed]

    @property
    def scheduled(self) -> list[Sent]:
        """Every MMS, SMS and call still waiting for its scheduled time (on the simulator's clock)."""
        now = self.clock()
        every: list[Sent] = [*self.messages, *self.sms, *self.calls]
        return [m for m in every if m.is_scheduled(now)]

    @property
    def replies(self) -> list[ReceivedSms]:
        """Incoming ECO replies, oldest first (read or not)."""
        return [message for message in self.received if message.type == "eco"]

    def inject_reply(self, phone: str, text: str, message_id: str | None = None) -> str:
        """Someone at `phone` replies `text` to an ECO SMS; returns the reply's id.

        `message_id` defaults to the newest ECO SMS sent to that phone (None when there is none). The
        reply waits in `messages/recived` (type `eco`) until a listing with `read: true` returns it.
        """
        answered: SentSms | None
        if message_id is None:
            key = _number_key(phone)
            answered = next(
                (sms for sms in reversed(self.sms) if sms.type == "eco" and _number_key(sms.phone) == key),
                None,
            )
            message_id = answered.id if answered is not None else None
        else:
            answered = next((sms for sms in self.sms if sms.id == message_id), None)
        reply = ReceivedSms(
            id=secrets.token_hex(5),
            type="eco",
            phone=phone,
            text=text,
            message_id=message_id,
            to_number=answered.from_number
            if answered is not None and answered.from_number
            else ECO_NUMBERS[0],
            received=self.clock(),
        )
        self.received.append(reply)
        return reply.id

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, control_port: int | None = None) -> str:
        """Start serving; returns the gateway's base URL (with a trailing slash).

        With `control_port` (0: any free port) the same routes are also served there, in `control_url`,
        and that port stays up during outages: `/_sim/...`, the inbox and the demo camera. The API
        answers only on the gateway port, so nothing can use the gateway without going down with it.
        """
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        if control_port is not None:
            control = web.TCPSite(self._runner, host, control_port)
            await control.start()
            self._control_port = _bound_port(control, control_port)
            self.control_url = f"http://{host}:{self._control_port}/"
        await self._listen(host, port)
        return self.url

    async def _stamp_date(self, _request: web.Request, response: web.StreamResponse) -> None:
        """Every answer's `Date` is the simulator's clock (a test may set it apart from the client's)."""
        response.headers[hdrs.DATE] = formatdate(self.clock(), usegmt=True)

    async def _listen(self, host: str, port: int) -> None:
        assert self._runner is not None  # noqa: S101
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._gateway = site
        self._gateway_address = (host, _bound_port(site, port))
        self.url = f"http://{host}:{self._gateway_address[1]}/"
        self._online.set()

    @property
    def online(self) -> bool:
        """Whether the gateway port accepts connections."""
        return self._online.is_set()

    async def wait_online(self) -> None:
        """Return once the gateway accepts connections (at once when it does)."""
        await self._online.wait()

    def cut_off(self, *, keep: asyncio.BaseTransport | None = None) -> None:
        """An outage starts right now: the gateway port stops accepting and its connections close.

        Synchronous, so a test can start an outage between two requests (from `on_request`); a client
        on this event loop may still see a connection it had open close under it, as when a cable is
        pulled. `go_offline()` also waits for those to close, so the next request is refused. The
        control port and everything the gateway stored stay. `keep`: a connection that still has to
        carry its reply.
        """
        self._online.clear()
        for hold in list(self._holds):
            hold.cancel()
        if self._gateway is not None:
            server = self._gateway._server  # noqa: SLF001 - the listening socket has no public handle
            if server is not None:
                server.close()
        for connection in self._gateway_connections():
            if connection.transport is not keep:
                connection.force_close()

    async def go_offline(self, seconds: float | None = None) -> None:
        """An outage: the gateway port closes, so connections are refused; everything stored stays.

        With `seconds` the gateway comes back by itself on the same address and port after that long
        (on the event loop's clock); otherwise `go_online()` brings it back.
        """
        self._cancel_return()
        self.cut_off()
        await self._let_connections_close()
        self._return_after(seconds)

    async def go_online(self) -> None:
        """End an outage: listen again on the same address and port."""
        self._cancel_return()
        if self.online or self._runner is None or self._gateway_address is None:
            return
        if self._gateway is not None:
            await self._gateway.stop()
            self._gateway = None
        await self._listen(*self._gateway_address)
        _LOGGER.info("gateway back online on %s", self.url)

    def _gateway_connections(self, keep: asyncio.BaseTransport | None = None) -> list[Any]:
        if self._runner is None or self._runner.server is None or self._gateway_address is None:
            return []
        port = self._gateway_address[1]
        return [
            connection
            for connection in self._runner.server.connections
            if connection.transport is not None
            and connection.transport is not keep
            and _local_port(connection.transport) == port
        ]

    async def _let_connections_close(self, keep: asyncio.BaseTransport | None = None) -> None:
        # A client on this event loop must see its idle keep-alive connections closed before its next
        # request: reusing one would look like a dropped request (outcome unknown), not a refusal.
        for _ in range(1000):
            if not self._gateway_connections(keep):
                break
            await asyncio.sleep(0)
        for _ in range(5):  # the peer's end: its read of the close runs on the next turns
            await asyncio.sleep(0)

    def _return_after(self, seconds: float | None) -> None:
        if seconds is None:
            _LOGGER.info("gateway offline: connections to %s are refused", self.url)
            return
        _LOGGER.info("gateway offline for %g s: connections to %s are refused", seconds, self.url)
        self._back_online = asyncio.get_running_loop().call_later(seconds, self._come_back)

    def _come_back(self) -> None:
        self._back_online = None
        task = asyncio.get_running_loop().create_task(self._come_back_now())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _come_back_now(self) -> None:
        try:
            await self.go_online()
        except OSError as err:  # someone else took the port meanwhile
            _LOGGER.error("gateway cannot come back on %s: %s", self.url, err)  # noqa: TRY400

    def _cancel_return(self) -> None:
        if self._back_online is not None:
            self._back_online.cancel()
            self._back_online = None

    async def stop(self) -> None:
        """Stop serving, releasing any held replies (a pending return from an outage is dropped)."""
        self._cancel_return()
        for task in list(self._tasks):
            task.cancel()
        self._online.clear()
        for hold in list(self._holds):
            hold.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._gateway = None

    # --- HTTP plumbing ------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.on_response_prepare.append(self._stamp_date)
        app.router.add_get("/", self._inbox)
        app.router.add_get("/_sim/state", self._state)
        app.router.add_get("/_sim/files/{file_id}", self._file_bytes)
        app.router.add_post("/_sim/fault", self._add_fault)
        app.router.add_post("/_sim/offline", self._offline)
        app.router.add_post("/_sim/online", self._go_online)
        app.router.add_post("/_sim/reply", self._reply)
        app.router.add_post("/{module}/{action}", self._api)
        return app

    async def _hold(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._holds.add(future)
        try:
            await asyncio.wait_for(future, seconds)
        except (TimeoutError, asyncio.CancelledError):
            pass
        finally:
            self._holds.discard(future)

    async def _read_body(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
        fields: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        filenames: dict[str, str] = {}
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise _Reject(1006)
            return body, files, filenames
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    files[part.name] = bytes(await part.read())
                    filenames[part.name] = part.filename
                else:
                    fields[part.name] = await part.text()
            return fields, files, filenames
        form = await request.post()
        for key in form:
            values = [str(v) for v in form.getall(key)]
            name = key.removesuffix("[]")
            fields[name] = values if key.endswith("[]") or len(values) > 1 else values[0]
        return fields, files, filenames

    def _authenticate(self, request: web.Request, fields: dict[str, Any]) -> str:
        if not self.ip_allowed:
            raise _Reject(1003)
        header = request.headers.get("Authorization", "")
        if header:
            if not header.startswith("Bearer ") or self.token is None or header[7:] != self.token:
                raise _Reject(1001, status=self.bad_token_status)
            method = "token"
        elif "username" in fields or "password" in fields:
            if self.username is None or (fields.get("username"), fields.get("password")) != (
                self.username,
                self.password,
            ):
                raise _Reject(1001)
            method = "credentials"
        else:
            raise _Reject(1001)
        if not self.api_access:
            raise _Reject(1002)
        return method

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.transport is not None and _local_port(request.transport) == self._control_port:
            raise web.HTTPNotFound(text="the control port has no API; use the gateway port")
        if not self.online and request.transport is not None:
            # A connection that got in as the port closed (accepted a turn before, or kept for a
            # reply): in an outage it is dropped with nothing done, as a pulled cable would.
            request.transport.abort()
            return web.Response(status=503)
        endpoint = f"{request.match_info['module']}/{request.match_info['action'].removesuffix('.json')}"
        self.in_flight[endpoint] += 1
        self.most_in_flight[endpoint] = max(self.most_in_flight[endpoint], self.in_flight[endpoint])
        try:
            return await self._answer(endpoint, request)
        finally:
            self.in_flight[endpoint] -= 1

    async def _answer(self, endpoint: str, request: web.Request) -> web.StreamResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        queue = self._faults.get(endpoint) or self._faults.get("*")
        fault = queue.popleft() if queue else None
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        try:
            fields, files, filenames = await self._read_body(request)
        except (ValueError, _Reject):
            fields, files, filenames = {}, {}, {}
        record = RecordedRequest(
            index=len(self.requests),
            endpoint=endpoint,
            auth="token"
            if "Authorization" in request.headers
            else ("credentials" if "username" in fields else None),
            fields=fields,
            files=files,
            headers=headers,
            fault=fault.kind if fault else None,
            at=self.clock(),
        )
        self.requests.append(record)
        if self.on_request is not None:
            self.on_request(record)
        if fault is not None:
            early = await self._fault_before(request, fault)
            if early is not None:
                return early
        try:
            self._authenticate(request, fields)
            handler = self._handlers().get(endpoint)
            if handler is None:
                raise _Reject(1000, "Brak akcji")
            reply = await handler(fields, files, filenames, record)
            status = 200
        except _Reject as err:
            reply, status = _error_body(err.code, err.message), err.status
        if fault is not None and fault.kind == "hang_after":
            await self._hold(fault.hold)
            return web.json_response(reply, status=status)
        if fault is not None and fault.kind == "reply":
            return web.json_response(fault.body(reply) if callable(fault.body) else fault.body)
        if fault is not None and fault.kind == "malformed":
            return web.Response(
                text=json.dumps(reply)[: max(1, len(json.dumps(reply)) // 2)], content_type="application/json"
            )
        response = web.json_response(reply, status=status)
        if endpoint in SEND_ENDPOINTS and record.processed and self.sends_until_outage is not None:
            self.sends_until_outage -= 1
            if self.sends_until_outage <= 0:
                self.sends_until_outage = None
                return await self._reply_then_go_offline(request, response, None)
        return response

    async def _reply_then_go_offline(
        self, request: web.Request, response: web.StreamResponse, seconds: float | None
    ) -> web.StreamResponse:
        """The port closes first, its other connections with it; then this reply goes out, its last."""
        self._cancel_return()
        self.cut_off(keep=request.transport)
        await self._let_connections_close(keep=request.transport)
        self._return_after(seconds)
        response.force_close()  # `Connection: close`
        return response

    async def _fault_before(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        if fault.kind == "timeout":
            await self._hold(fault.hold)
            return web.json_response(_error_body(1000, "timeout"), status=504)
        if fault.kind == "status":
            headers = {}
            if fault.status == 429 and fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            return web.Response(status=fault.status, text=f"HTTP {fault.status}", headers=headers)
        if fault.kind == "html":
            page = f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>"
            return web.Response(status=fault.status, text=page, content_type="text/html")
        if fault.kind == "error":
            return web.json_response(_error_body(fault.code, ERROR_MESSAGES.get(fault.code, ("", "Błąd"))[1]))
        if fault.kind == "reset":
            transport = request.transport
            if transport is not None:
                transport.abort()
            return web.Response(status=500)
        return None

    # --- the API ------------------------------------------------------------------------------

    def _handlers(self) -> dict[str, Any]:
        return {
            "account/limits": self._account_limits,
            "files/add": self._files_add,
            "files/index": self._files_index,
            "files/view": self._files_view,
            "files/delete": self._files_delete,
            "messages/send_mms": self._send_mms,
            "messages/send_sms": self._send_sms,
            "messages/send_voice": self._send_voice,
            "messages/reports": self._reports,
            "messages/delete": self._delete,
            "messages/recived": self._recived,
        }

    def _mms_limit_value(self) -> str:
        if self.mms_limit_override is not None:
            return self.mms_limit_override
        if not self.mms_allowed:
            return NOT_AVAILABLE
        return NO_LIMIT if self.credits is None else str(self.credits)

    def _limit_value(self, kind: str) -> str:
        value = self.type_credits.get(kind, NOT_AVAILABLE)
        return NO_LIMIT if value is None else str(value)

    async def _account_limits(self, fields: dict[str, Any], *_: Any) -> dict[str, Any]:
        return {
            "items": [
                {"type": "eco", "chars_limit": "160/1", "value": self._limit_value("eco")},
                {"type": "full", "chars_limit": "160/1", "value": self._limit_value("full")},
                {"type": "voice", "chars_limit": f"{MAX_CALL_TEXT}/1", "value": self._limit_value("voice")},
                {"type": "mms", "chars_limit": "40/1", "value": self._mms_limit_value()},
                {"type": "hlr", "chars_limit": "0/0", "value": self._limit_value("hlr")},
            ]
        }

    async def _files_add(
        self,
        fields: dict[str, Any],
        files: dict[str, bytes],
        filenames: dict[str, str],
        record: RecordedRequest,
    ) -> dict[str, Any]:
        if fields.get("type") != "mms":
            raise _Reject(2000, "Parametr type musi mieć wartość mms")
        if "file" in files:
            if fields.get("url"):
                raise _Reject(2000, "Podaj url albo file")
            content = files["file"]
            name = str(fields.get("name") or filenames.get("file") or "file")
        elif fields.get("url"):
            content = await self._fetch(str(fields["url"]))
            name = str(fields.get("name") or URL(str(fields["url"])).name or "file")
        else:
            raise _Reject(2000, "Brak pliku")
        content_type = sniff_content_type(content)
        if content_type is None:
            raise _Reject(1006, "Niedozwolony typ pliku")
        file_id = secrets.token_hex(5)
        date = datetime.now(WARSAW).strftime("%Y-%m-%d %H:%M:%S")
        self.files[file_id] = StoredFile(file_id, name, content, content_type, date)
        record.processed = True
        return {"success": True, "id": file_id}

    async def _fetch(self, url: str) -> bytes:
        if URL(url).host not in self.allow_url_fetch_hosts:
            raise _Reject(2000, "Nie można pobrać pliku z podanego adresu")
        async with ClientSession(timeout=ClientTimeout(total=10)) as session, session.get(url) as response:
            if response.status != 200:
                raise _Reject(2000, "Nie można pobrać pliku z podanego adresu")
            return await response.read()

    def _file_item(self, stored: StoredFile) -> dict[str, Any]:
        return {"id": stored.id, "name": stored.name, "size": stored.size, "type": "mms", "date": stored.date}

    async def _files_index(self, fields: dict[str, Any], *_: Any) -> dict[str, Any]:
        if fields.get("type", "mms") != "mms":
            return {"items": []}
        return {"items": [self._file_item(stored) for stored in self.files.values()]}

    async def _files_view(self, fields: dict[str, Any], *_: Any) -> dict[str, Any]:
        stored = self.files.get(str(fields.get("id")))
        if stored is None:
            raise _Reject(1004)
        return self._file_item(stored)

    async def _files_delete(self, fields: dict[str, Any], *_: Any) -> dict[str, Any]:
        if self.files.pop(str(fields.get("id")), None) is None:
            raise _Reject(1004)
        return {"success": True}

    def _schedule(self, fields: dict[str, Any]) -> tuple[str | None, float]:
        """A send's scheduled time as given (or None) and when it starts, on the simulator's clock."""
        now = self.clock()
        if not fields.get("date"):
            return None, now
        try:
            parsed = datetime.fromisoformat(str(fields["date"]))
        except ValueError as err:
            raise _Reject(1006, "Niepoprawny format daty") from err
        # The gateway's clock is Warsaw local time.
        return (
            parsed.strftime("%Y-%m-%d %H:%M:%S"),
            max(now, parsed.replace(tzinfo=parsed.tzinfo or WARSAW).timestamp()),
        )

    def _charge(self, kind: str, count: int, *, test: bool) -> None:
        """Take `count` credits of `kind` (`eco`, `full`, `voice`); 3001: no such service, 3000: none left."""
        value = self.type_credits.get(kind, NOT_AVAILABLE)
        if value == NOT_AVAILABLE:
            raise _Reject(3001)
        if test or not isinstance(value, int):
            return
        if value < count:
            raise _Reject(3000)
        self.type_credits[kind] = value - count

    @staticmethod
    def _recipients(fields: dict[str, Any]) -> tuple[list[str], list[str]]:
        phones = _as_list(fields.get("phone"))
        if not phones or len(phones) > MAX_PHONES:
            raise _Reject(2000, "Nieprawidłowa liczba odbiorców")
        return phones, [phone for phone in phones if PHONE_RE.match(phone.replace(" ", ""))]

    def _send_reply(
        self,
        fields: dict[str, Any],
        record: RecordedRequest,
        phones: list[str],
        valid: list[str],
        *,
        text: str,
        parts: int,
        keep: Callable[[str, str], None],
    ) -> dict[str, Any]:
        """Each number's item (`keep(id, phone)` records a queued one outside test mode), the reply."""
        test = _truthy(fields.get("test"))
        queued_at = datetime.now(WARSAW).strftime("%Y-%m-%d %H:%M:%S")
        items: list[dict[str, Any]] = []
        for phone in phones:
            message_id = secrets.token_hex(5)
            item: dict[str, Any] = {
                "id": message_id,
                "phone": phone,
                "queued": queued_at,
                "parts": parts,
                "text": text,
            }
            if phone in valid:
                item["status"] = "queued"
                if not test:
                    keep(message_id, phone)
            else:
                item.update(status="unsent", error_code=3103, error_message="Błędny numer odbiorcy")
            items.append(item)
        record.processed = True
        queued = sum(1 for item in items if item["status"] == "queued")
        reply: dict[str, Any] = {"success": True, "queued": queued, "unsent": len(items) - queued}
        if _truthy(fields.get("details")):
            reply["items"] = items
        return reply

    def _timing(self, starts: float) -> dict[str, float]:
        return {
            "created": starts,
            "sent_at": starts + min(self.sent_delay, self.delivery_delay),
            "final_at": starts + self.delivery_delay,
        }

    async def _send_mms(
        self,
        fields: dict[str, Any],
        files: dict[str, bytes],
        filenames: dict[str, str],
        record: RecordedRequest,
    ) -> dict[str, Any]:
        title = fields.get("title")
        if not isinstance(title, str) or not title:
            raise _Reject(2000, "Brak tytułu")
        if len(title) > MAX_TITLE:
            raise _Reject(2000, f"Tytuł może mieć maksymalnie {MAX_TITLE} znaków")
        file_ids = _as_list(fields.get("file_id"))
        text = fields.get("text") or None
        if not file_ids and not text:
            raise _Reject(3101, "Pusta wiadomość")
        if len(file_ids) > MAX_FILES:
            raise _Reject(2000, f"Maksymalnie {MAX_FILES} plików")
        for file_id in file_ids:
            if file_id not in self.files:
                raise _Reject(1004, "Niepoprawne ID pliku")
        phones, valid = self._recipients(fields)
        scheduled, starts = self._schedule(fields)
        if not self.mms_allowed:
            raise _Reject(3005)
        test = _truthy(fields.get("test"))
        if not test and self.credits is not None:
            if self.credits < len(valid):
                raise _Reject(3004)
            self.credits -= len(valid)
        unique_id = _opt_text(fields.get("unique_id"))

        def keep(message_id: str, phone: str) -> None:
            reason = self.undeliverable.get(phone)
            if reason is None and _number_key(phone) in self.no_mms_numbers:
                reason = "unsupported_number"
            self.messages.append(
                SentMms(
                    message_id,
                    phone,
                    title,
                    text,
                    file_ids,
                    scheduled,
                    record.index,
                    **self._timing(starts),
                    undelivered_reason=reason,
                    unique_id=unique_id,
                )
            )

        return self._send_reply(fields, record, phones, valid, text=title, parts=1, keep=keep)

    async def _send_sms(
        self,
        fields: dict[str, Any],
        files: dict[str, bytes],
        filenames: dict[str, str],
        record: RecordedRequest,
    ) -> dict[str, Any]:
        text = fields.get("text")
        if not isinstance(text, str) or not text:
            raise _Reject(3101)
        utf = _truthy(fields.get("utf"))
        parts = sms_parts(text, utf=utf)
        if parts > MAX_SMS_PARTS:
            raise _Reject(3102, f"Wiadomość może mieć najwyżej {MAX_SMS_PARTS} części")
        sender = _opt_text(fields.get("sender"))
        speed = _truthy(fields.get("speed"))
        if speed and sender is None:
            raise _Reject(2000, "Wysyłka ekspresowa (speed) wymaga nazwy nadawcy")
        phones, valid = self._recipients(fields)
        scheduled, starts = self._schedule(fields)
        kind = "full" if sender is not None else "eco"
        self._charge(kind, len(valid), test=_truthy(fields.get("test")))
        unique_id = _opt_text(fields.get("unique_id"))
        flash = _truthy(fields.get("flash"))

        def keep(message_id: str, phone: str) -> None:
            self.sms.append(
                SentSms(
                    message_id,
                    phone,
                    text,
                    sender,
                    kind,
                    flash,
                    speed,
                    utf,
                    parts,
                    scheduled,
                    record.index,
                    **self._timing(starts),
                    undelivered_reason=self.undeliverable_sms.get(phone),
                    unique_id=unique_id,
                    from_number=ECO_NUMBERS[len(self.sms) % len(ECO_NUMBERS)] if kind == "eco" else None,
                )
            )

        return self._send_reply(fields, record, phones, valid, text=text, parts=parts, keep=keep)

    async def _send_voice(
        self,
        fields: dict[str, Any],
        files: dict[str, bytes],
        filenames: dict[str, str],
        record: RecordedRequest,
    ) -> dict[str, Any]:
        text = _opt_text(fields.get("text"))
        file_id = _opt_text(fields.get("file_id"))
        if text is None and file_id is None:
            raise _Reject(3101)
        if text is not None and file_id is not None:
            raise _Reject(2000, "Podaj text albo file_id")
        if text is not None and len(text) > MAX_CALL_TEXT:
            raise _Reject(3102, f"Tekst połączenia może mieć najwyżej {MAX_CALL_TEXT} znaków")
        if file_id is not None and file_id not in self.files:
            raise _Reject(1004, "Niepoprawne ID pliku")
        phones, valid = self._recipients(fields)
        scheduled, starts = self._schedule(fields)
        self._charge("voice", len(valid), test=_truthy(fields.get("test")))
        unique_id = _opt_text(fields.get("unique_id"))

        def keep(message_id: str, phone: str) -> None:
            reason = self.undeliverable_calls.get(phone)
            if reason is None and _number_key(phone) in self.no_answer_numbers:
                reason = "missed_call"
            self.calls.append(
                SentCall(
                    message_id,
                    phone,
                    text,
                    file_id,
                    scheduled,
                    record.index,
                    **self._timing(starts),
                    undelivered_reason=reason,
                    unique_id=unique_id,
                )
            )

        return self._send_reply(fields, record, phones, valid, text=text or "", parts=1, keep=keep)

    def _of_type(self, kind: str) -> list[Sent]:
        if kind == "mms":
            return list(self.messages)
        if kind in {"eco", "full"}:
            return [sms for sms in self.sms if sms.type == kind]
        if kind == "voice":
            return list(self.calls)
        return []

    async def _reports(self, fields: dict[str, Any], *_: Any) -> dict[str, Any]:
        ids = _as_list(fields.get("id"))
        if len(ids) > MAX_REPORT_IDS:
            raise _Reject(2000, f"Maksymalnie {MAX_REPORT_IDS} identyfikatorów")
        kind = str(fields.get("type") or "mms")
        # Each type reports only its own messages: an SMS id asked with `type: mms` is not found.
        by_id = {message.id: message for message in self._of_type(kind)}
        items: list[dict[str, Any]] = []
        now = self.clock()
        for message_id in ids:
            message = by_id.get(message_id)
            if message is None:
                continue
            status, reason = message.report(now)
            item: dict[str, Any] = {"id": message.id, "phone": message.phone, "type": kind, "status": status}
            if reason is not None:
                item["reason"] = reason
            items.append(item)
            if self.repeat_reports and message.final_at <= now:
                items.append(dict(item))
        if self.repeat_reports:
            asked = set(ids)
            items.extend(
                item
                for key, item in self._final_reports.items()
                if key not in asked and item.get("type") == kind
            )
            self._final_reports.update(
                (item["id"], dict(item)) for item in items if item["status"] in {"delivered", "undelivered"}
            )
        return {"items": items}

    async def _delete(
        self,
        fields: dict[str, Any],
        files: dict[str, bytes],
        filenames: dict[str, str],
        record: RecordedRequest,
    ) -> dict[str, Any]:
        """Remove scheduled messages by `id` or `unique_id`; 1004 when none of them is scheduled."""
        ids = set(_as_list(fields.get("id")))
        unique_ids = set(_as_list(fields.get("unique_id")))
        if not ids and not unique_ids:
            raise _Reject(2000, "Podaj id albo unique_id")
        now = self.clock()
        doomed = [
            message
            for message in self.scheduled
            if message.id in ids or (message.unique_id is not None and message.unique_id in unique_ids)
        ]
        if not doomed:
            raise _Reject(1004, "Wiadomość nie istnieje albo nie czeka już na wysłanie")
        gone = {id(message) for message in doomed}
        self.messages = [m for m in self.messages if id(m) not in gone]
        self.sms = [m for m in self.sms if id(m) not in gone]
        self.calls = [m for m in self.calls if id(m) not in gone]
        self.deleted.extend(doomed)
        record.processed = True
        _LOGGER.debug("deleted %d scheduled message(s) at %s", len(doomed), _gateway_time(now))
        return {"success": True}

    async def _recived(self, fields: dict[str, Any], *_: Any) -> dict[str, Any]:
        """Incoming messages, unread only, with paging; `read: true` marks the returned ones read."""
        kind = str(fields.get("type") or "eco")
        if kind not in RECEIVED_TYPES:
            raise _Reject(2000, "Nieprawidłowy typ wiadomości")
        date_from = _gateway_epoch(fields.get("date_from"))
        date_to = _gateway_epoch(fields.get("date_to"))
        page = _positive(fields.get("page"), 1)
        limit = min(_positive(fields.get("limit"), 100), 500)
        phones = {_number_key(phone) for phone in _as_list(fields.get("phone"))}
        matching = [
            message
            for message in self.received
            if message.type == kind
            and not message.read
            and (date_from is None or message.received >= date_from)
            and (date_to is None or message.received <= date_to)
            and (not phones or _number_key(message.phone) in phones)
        ]
        if str(fields.get("order") or "asc").lower() == "desc":
            matching.reverse()
        pages = max(1, math.ceil(len(matching) / limit))
        shown = matching[(page - 1) * limit : page * limit]
        if _truthy(fields.get("read")):
            for message in shown:
                message.read = True
        return {"paging": {"page": page, "count": pages}, "items": [message.item() for message in shown]}

    # --- for people and scripts ---------------------------------------------------------------

    async def _inbox(self, _request: web.Request) -> web.Response:
        return web.Response(text=render_inbox(self), content_type="text/html")

    async def _state(self, _request: web.Request) -> web.Response:
        now = self.clock()
        return web.json_response(
            {
                "online": self.online,
                "credits": self.credits,
                "files": [
                    self._file_item(stored) | {"content_type": stored.content_type}
                    for stored in self.files.values()
                ],
                "messages": [
                    {
                        "id": m.id,
                        "phone": m.phone,
                        "title": m.title,
                        "text": m.text,
                        "file_ids": m.file_ids,
                        "scheduled": m.scheduled,
                        "request_index": m.request_index,
                        "status": m.report(now)[0],
                        "reason": m.report(now)[1],
                        "final_at": m.final_at,
                    }
                    for m in self.messages
                ],
                "sms": [
                    {
                        "id": m.id,
                        "phone": m.phone,
                        "text": m.text,
                        "type": m.type,
                        "sender": m.sender,
                        "from_number": m.from_number,
                        "flash": m.flash,
                        "speed": m.speed,
                        "parts": m.parts,
                        "scheduled": m.scheduled,
                        "request_index": m.request_index,
                        "status": m.report(now)[0],
                        "reason": m.report(now)[1],
                        "final_at": m.final_at,
                    }
                    for m in self.sms
                ],
                "calls": [
                    {
                        "id": m.id,
                        "phone": m.phone,
                        "text": m.text,
                        "file_id": m.file_id,
                        "scheduled": m.scheduled,
                        "request_index": m.request_index,
                        "status": m.report(now)[0],
                        "reason": m.report(now)[1],
                        "final_at": m.final_at,
                    }
                    for m in self.calls
                ],
                "scheduled": [
                    {"id": m.id, "channel": _channel(m), "phone": m.phone, "scheduled": m.scheduled}
                    for m in self.scheduled
                ],
                "received": [message.item() | {"read": message.read} for message in self.received],
                "type_credits": self.type_credits,
                "requests": [
                    {"endpoint": r.endpoint, "auth": r.auth, "fault": r.fault} for r in self.requests
                ],
            }
        )

    async def _file_bytes(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["file_id"])
        if stored is None:
            raise web.HTTPNotFound
        return web.Response(body=stored.content, content_type=stored.content_type)

    async def _offline(self, request: web.Request) -> web.StreamResponse:
        """`POST /_sim/offline {"seconds": 60}`: refuse gateway connections for that long, then come back."""
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            body = None
        seconds = body.get("seconds", 60) if isinstance(body, dict) else None
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not 0 < seconds <= MAX_OUTAGE_SECONDS
        ):
            return web.json_response(
                {"error": f'give {{"seconds": S}} with 0 < S <= {MAX_OUTAGE_SECONDS:g}'}, status=400
            )
        reply = web.json_response({"offline_seconds": seconds})
        return await self._reply_then_go_offline(request, reply, seconds)

    async def _go_online(self, _request: web.Request) -> web.Response:
        """`POST /_sim/online` (on the control port): end an outage now."""
        await self.go_online()
        return web.json_response({"online": self.online})

    async def _reply(self, request: web.Request) -> web.StreamResponse:
        """`POST /_sim/reply {"phone", "text", "message_id"?}`: someone replies to an ECO SMS.

        JSON gets `{"id", "message_id"}` back; a form post (the inbox's reply button) goes back to `/`.
        """
        form = not request.content_type.startswith("application/json")
        try:
            body: Any = dict(await request.post()) if form else await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        phone, text, message_id = body.get("phone"), body.get("text"), body.get("message_id") or None
        if not isinstance(phone, str) or not phone or not isinstance(text, str) or not text:
            return web.json_response({"error": 'give {"phone": …, "text": …, "message_id"?: …}'}, status=400)
        reply_id = self.inject_reply(phone, text, message_id if isinstance(message_id, str) else None)
        if form:
            raise web.HTTPSeeOther("/")
        answered = self.received[-1].message_id
        return web.json_response({"id": reply_id, "message_id": answered})

    async def _add_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        fault = Fault(
            kind=str(body["kind"]),
            status=int(body.get("status", 500)),
            code=int(body.get("code", 1000)),
            retry_after=body.get("retry_after"),
            hold=float(body.get("hold", 3600.0)),
        )
        self.fail_next(str(body.get("endpoint", "*")), fault, int(body.get("times", 1)))
        return web.json_response({"ok": True})
