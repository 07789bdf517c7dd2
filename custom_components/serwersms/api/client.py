"""An asyncio client for the SerwerSMS.pl HTTPS API v2 (MMS, SMS, calls, replies, files, account).

It has no Home Assistant imports so that it can be published on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
import json
import logging
import time
from typing import Any, Final
from zoneinfo import ZoneInfo

import aiohttp

from .exceptions import (
    SerwerSmsApiError,
    SerwerSmsAuthError,
    SerwerSmsConnectionError,
    SerwerSmsError,
    SerwerSmsMessageGoneError,
    SerwerSmsNotFoundError,
    SerwerSmsNotReachedError,
    SerwerSmsOutcomeUnknownError,
    SerwerSmsRateLimitError,
    SerwerSmsResponseError,
    SerwerSmsServerError,
    SerwerSmsTimeoutError,
    error_for_code,
)
from .models import (
    UNKNOWN,
    UNSENT,
    BatchOutcome,
    FileInfo,
    Limit,
    ReceivedPage,
    RecipientResult,
    Report,
    SendResult,
    limit_of,
    parse_file_id,
    parse_files,
    parse_limits,
    parse_received,
    parse_reports,
    parse_send,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://api2.serwersms.pl/"
DEFAULT_SYSTEM: Final = "home_assistant"
DEFAULT_TIMEOUT: Final = 30.0
MAX_PHONES_PER_REQUEST: Final = 100
MAX_FILES_PER_MMS: Final = 10
MAX_REPORT_IDS: Final = 500
REPORT_TYPES: Final = ("mms", "eco", "full", "voice")
# Our cap on what a call reads out: the gateway publishes no limit for text-to-speech; 500 characters
# take well over half a minute to say, and the caller refuses longer text before anything is sent.
MAX_CALL_TEXT: Final = 500
# SMS are always sent with `utf` (Polish letters), i.e. UCS-2: 70 characters in one part, 67 in each
# part of a longer one. SerwerSMS joins at most 6 parts (its documented 918-character maximum is
# 6 x 153 GSM-7 characters), so 6 x 67 = 402 characters is what surely goes out as one message.
MAX_SMS_TEXT: Final = 402
CONNECT_TIMEOUT: Final = 10.0
# A gateway's `Date` outside these years is not a clock to go by.
_PLAUSIBLE_YEARS: Final = (2000, 9000)
GATEWAY_TIMEZONE: Final = ZoneInfo("Europe/Warsaw")


class _NotTriedError(SerwerSmsNotReachedError):
    """Not even tried: another call is retrying a gateway it could not reach (see `_fail_fast`)."""


@dataclass(frozen=True, slots=True)
class _Upload:
    content: bytes
    filename: str
    content_type: str


class SerwerSmsClient:
    """Talks to the SerwerSMS gateway over an injected aiohttp session.

    Authenticate with `token` (sent as a Bearer header) or with `username` and `password`
    (sent as body fields, the API-user method).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        system: str = DEFAULT_SYSTEM,
        timeout: float = DEFAULT_TIMEOUT,
        max_attempts: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        batch_size: int = MAX_PHONES_PER_REQUEST,
        max_parallel_batches: int = 5,
    ) -> None:
        """Configure the client; nothing is sent until a call is made."""
        if token is None and (username is None or password is None):
            raise ValueError("give either a token or a username and a password")
        if not 1 <= batch_size <= MAX_PHONES_PER_REQUEST:
            raise ValueError(f"batch_size must be 1..{MAX_PHONES_PER_REQUEST}")
        self._session = session
        self._token = token
        self._username = username
        self._password = password
        self._base_url = base_url if base_url.endswith("/") else f"{base_url}/"
        self._system = system
        # Getting a connection — a free one from the pool, the name lookup, the connect itself (no route
        # while a router reboots) — has its own limit: when it runs out, nothing was sent, and the send
        # may wait in the outbox. Left to the total timeout, it would be taken for "may have been sent".
        # Well inside the total: due at the same moment, aiohttp would raise the total timeout instead.
        connect = min(CONNECT_TIMEOUT, timeout / 2)
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect, sock_connect=connect)
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._batch_size = batch_size
        self._parallel = asyncio.Semaphore(max(1, max_parallel_batches))
        # The last connection attempt was refused (or found no route), and no reply came since.
        self._gateway_down = False
        self._probing = 0  # calls retrying after they could not reach the gateway
        self._reachable: bool | None = None  # None: not asked yet
        self._reachability_listeners: list[Callable[[bool, str], None]] = []
        # The gateway's clock as its last answer gave it (HTTP `Date`), and when (monotonic seconds).
        self._gateway_clock: tuple[datetime, float] | None = None

    def add_reachability_listener(self, listener: Callable[[bool, str], None]) -> Callable[[], None]:
        """Call `listener(reachable, detail)` when the gateway stops answering, and when it answers again.

        Once per change, not per request: a caller that logs there logs an outage once, however
        many polls and retries fail during it. "Not answering" is a connection that failed or timed
        out, or an HTTP 5xx; any other reply, a refusal included, is an answer. `detail` says what
        happened (never a secret).
        """
        self._reachability_listeners.append(listener)
        return lambda: self._reachability_listeners.remove(listener)

    # --- public calls -------------------------------------------------------------------------

    async def account_limits(self) -> list[Limit]:
        """Return the account's limits (`account/limits`); also a cheap credential check."""
        return parse_limits(await self._call("account/limits", {}))

    async def mms_limit(self) -> Limit | None:
        """Return the account's MMS limit, or None when the gateway lists none."""
        return limit_of(await self.account_limits(), "mms")

    async def upload_file(self, content: bytes, *, filename: str, content_type: str) -> str:
        """Upload an MMS attachment's bytes (`files/add`, multipart) and return its file id."""
        fields = {"type": "mms", "name": filename}
        upload = _Upload(content, filename, content_type)
        return parse_file_id(await self._call("files/add", fields, upload=upload))

    async def list_files(self) -> list[FileInfo]:
        """List the MMS files stored on the gateway (`files/index`)."""
        return parse_files(await self._call("files/index", {"type": "mms"}))

    async def delete_file(self, file_id: str) -> None:
        """Delete one stored MMS file (`files/delete`)."""
        await self._call("files/delete", {"id": file_id, "type": "mms"})

    async def send_mms(
        self,
        phones: Sequence[str],
        *,
        title: str,
        file_ids: Sequence[str] = (),
        text: str | None = None,
        date: datetime | None = None,
        test: bool = False,
    ) -> SendResult:
        """Send one MMS to `phones` (`messages/send_mms`), in parallel batches, results in input order.

        When no batch went through, an error is raised: `SerwerSmsOutcomeUnknownError` if any batch
        may have been sent, else the first batch's error. When some did, the others' recipients are
        reported as `unsent` (certainly not sent) or `unknown` (the MMS may have been sent).
        """
        return _merged_or_raised(
            await self.send_mms_batches(
                phones, title=title, file_ids=file_ids, text=text, date=date, test=test
            )
        )

    async def send_mms_batches(
        self,
        phones: Sequence[str],
        *,
        title: str,
        file_ids: Sequence[str] = (),
        text: str | None = None,
        date: datetime | None = None,
        test: bool = False,
    ) -> list[BatchOutcome]:
        """Send one MMS to `phones` in batches of at most 100, a few in flight; one outcome per batch.

        A batch is re-sent only when it provably never reached the gateway. A gateway error ends only
        its own batch and is kept in its outcome, never raised.
        """
        if len(file_ids) > MAX_FILES_PER_MMS:
            raise ValueError(f"at most {MAX_FILES_PER_MMS} files per MMS")
        fields: dict[str, Any] = {"title": title}
        if file_ids:
            fields["file_id"] = list(file_ids)
        if text:
            fields["text"] = text
        return await self._send_batches("messages/send_mms", phones, fields, date=date, test=test)

    async def send_sms(
        self,
        phones: Sequence[str],
        *,
        text: str,
        sender: str | None = None,
        flash: bool = False,
        speed: bool = False,
        date: datetime | None = None,
        test: bool = False,
    ) -> SendResult:
        """Send one SMS to `phones` (`messages/send_sms`); raises as `send_mms` does."""
        return _merged_or_raised(
            await self.send_sms_batches(
                phones, text=text, sender=sender, flash=flash, speed=speed, date=date, test=test
            )
        )

    async def send_sms_batches(
        self,
        phones: Sequence[str],
        *,
        text: str,
        sender: str | None = None,
        flash: bool = False,
        speed: bool = False,
        date: datetime | None = None,
        test: bool = False,
    ) -> list[BatchOutcome]:
        """Send one SMS to `phones` in batches of at most 100; one outcome per batch, as for MMS.

        Always `utf` (Polish letters kept, shorter parts). No `sender` (or an empty one) is the ECO
        class: the gateway's shared numbers, which people can reply to; a registered name is FULL.
        `speed` (the priority channel) needs a sender; the gateway refuses it otherwise.
        """
        if not text:
            raise ValueError("empty text")
        if len(text) > MAX_SMS_TEXT:
            raise ValueError(f"an SMS has at most {MAX_SMS_TEXT} characters")
        fields: dict[str, Any] = {"text": text, "utf": True}
        if sender:
            fields["sender"] = sender
        if flash:
            fields["flash"] = True
        if speed:
            fields["speed"] = True
        return await self._send_batches("messages/send_sms", phones, fields, date=date, test=test)

    async def send_voice(
        self,
        phones: Sequence[str],
        *,
        text: str,
        date: datetime | None = None,
        test: bool = False,
    ) -> SendResult:
        """Call `phones` and read `text` out (`messages/send_voice`); raises as `send_mms` does."""
        return _merged_or_raised(await self.send_voice_batches(phones, text=text, date=date, test=test))

    async def send_voice_batches(
        self,
        phones: Sequence[str],
        *,
        text: str,
        date: datetime | None = None,
        test: bool = False,
    ) -> list[BatchOutcome]:
        """Call `phones` in batches of at most 100, `text` read out by text-to-speech; as for MMS."""
        if not text:
            raise ValueError("empty text")
        if len(text) > MAX_CALL_TEXT:
            raise ValueError(f"a call's text has at most {MAX_CALL_TEXT} characters")
        return await self._send_batches("messages/send_voice", phones, {"text": text}, date=date, test=test)

    async def reports(self, message_ids: Sequence[str], type: str = "mms") -> list[Report]:  # noqa: A002
        """Return delivery reports of sent messages (`messages/reports`): one request, at most 500 ids.

        `type` is the messages' kind: `mms`, `eco` or `full` (SMS without and with a sender name),
        `voice` (calls; one not picked up is `undelivered` with reason `missed_call`). More ids are the
        caller's to split (`chunked(ids, MAX_REPORT_IDS)`): it decides what a failed request means for
        the others, so they are not hidden in one call here.
        """
        if type not in REPORT_TYPES:
            raise ValueError(f"type must be one of {', '.join(REPORT_TYPES)}")
        if not message_ids:
            return []
        if len(message_ids) > MAX_REPORT_IDS:
            raise ValueError(f"at most {MAX_REPORT_IDS} ids per request")
        return parse_reports(await self._call("messages/reports", {"id": list(message_ids), "type": type}))

    async def delete_message(self, message_id: str) -> None:
        """Cancel a scheduled message (`messages/delete`).

        Raises `SerwerSmsMessageGoneError` when the gateway no longer has it scheduled (already sent,
        deleted before, or never known): whatever the caller wanted cancelled will not go out from
        that schedule any more, or already has.
        """
        if not message_id:
            raise ValueError("no message id")
        try:
            await self._call("messages/delete", {"id": message_id})
        except SerwerSmsNotFoundError as err:
            raise SerwerSmsMessageGoneError(err.gateway_message, code=err.code) from err

    async def received(
        self,
        *,
        type: str = "eco",  # noqa: A002
        date_from: datetime | None = None,
        page: int = 1,
        limit: int = 100,
    ) -> ReceivedPage:
        """One page of incoming messages (`messages/recived`, sic), oldest first.

        Never marks them read (`read: false`): other software on the account must still see them, so
        the caller remembers which ids it has handled. `date_from` (timezone-aware) is sent in the
        gateway's local time.
        """
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1")
        fields: dict[str, Any] = {"type": type, "read": False, "order": "asc", "page": page, "limit": limit}
        if date_from is not None:
            fields["date_from"] = _gateway_time(date_from)
        return parse_received(await self._call("messages/recived", fields), page=page, default_type=type)

    async def reachable(self, wait: float) -> bool:
        """Whether the gateway's host answers at all: a HEAD request, no account call, no back-off.

        Any HTTP answer counts (even an error status): the host is back. Used while MMS wait in the
        outbox, every few seconds, so it asks the account nothing and costs nothing.
        """
        for _ in range(2):
            try:
                # `Connection: close`: a probe leaves no kept-alive connection behind for a send to pick
                # up; one the gateway silently lost would hold that send until its timeout.
                async with self._session.head(
                    self._base_url,
                    timeout=aiohttp.ClientTimeout(total=wait),
                    allow_redirects=False,
                    headers={"Connection": "close"},
                ):
                    return True
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, TimeoutError):
                return False
            except aiohttp.ClientError:
                # A kept-alive connection the gateway closed while it was away: once more, on a new one.
                continue
        return False

    def gateway_now(self) -> datetime | None:
        """The gateway's time now (UTC), from the `Date` of its last answer; None before any answer.

        A scheduled send's `date` is a moment on the gateway's calendar. A board without a battery-backed
        clock can start Home Assistant hours behind, before its clock is synced: a `date` taken from that
        clock would lie in the gateway's past, and the message go out at once. The `Date` header is
        whole seconds; the time since it is counted on a clock that also counts a suspended machine.
        """
        if self._gateway_clock is None:
            return None
        said, at = self._gateway_clock
        return said + timedelta(seconds=_since_boot() - at)

    def _note_gateway_clock(self, header: str | None) -> None:
        if not header:
            return
        try:
            said = parsedate_to_datetime(header)
            if said.tzinfo is None:
                said = said.replace(tzinfo=UTC)
            said = said.astimezone(UTC)
        except (TypeError, ValueError, IndexError, OverflowError):
            return  # an odd header changes nothing: the last good one (or Home Assistant's clock) stands
        if not _PLAUSIBLE_YEARS[0] <= said.year <= _PLAUSIBLE_YEARS[1]:
            return  # nor does one far out (adding the time since to it could overflow)
        self._gateway_clock = (said, _since_boot())

    # --- plumbing -----------------------------------------------------------------------------

    async def _send_batches(
        self,
        endpoint: str,
        phones: Sequence[str],
        fields: dict[str, Any],
        *,
        date: datetime | None,
        test: bool,
    ) -> list[BatchOutcome]:
        """Send `fields` to `phones` by `endpoint`, in batches, a few in flight; one outcome per batch."""
        if not phones:
            raise ValueError("no recipients")
        fields = {**fields, "details": True}
        if date is not None:
            fields["date"] = _gateway_time(date)
        if test:
            fields["test"] = True
        batches = chunked(phones, self._batch_size)
        return list(await asyncio.gather(*(self._send_batch(endpoint, batch, fields) for batch in batches)))

    async def _send_batch(self, endpoint: str, phones: list[str], fields: dict[str, Any]) -> BatchOutcome:
        try:
            reply = await self._call(endpoint, {**fields, "phone": phones}, send=True)
        except SerwerSmsError as err:
            return BatchOutcome(tuple(phones), error=err)
        return BatchOutcome(tuple(phones), result=parse_send(reply, phones))

    def _body_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        body = {**fields, "system": self._system}
        if self._token is None:
            body["username"] = self._username
            body["password"] = self._password
        return body

    async def _call(
        self,
        endpoint: str,
        fields: dict[str, Any],
        *,
        upload: _Upload | None = None,
        send: bool = False,
    ) -> dict[str, Any]:
        """POST one call, retrying what is safe to retry."""
        attempt = 0
        probing = False  # this call is retrying a gateway it could not reach: others need not
        try:
            while True:
                attempt += 1
                try:
                    return await self._attempt(endpoint, fields, upload, send=send, first=attempt == 1)
                except _NotTriedError:
                    raise  # another call is finding out when the gateway is back
                except SerwerSmsNotReachedError:
                    # Nothing reached the gateway: safe to try again, even for a send.
                    if attempt >= self._max_attempts:
                        raise
                    if not probing:
                        probing = True
                        self._probing += 1
                    await asyncio.sleep(self._delay(attempt))
                except SerwerSmsRateLimitError as err:
                    # 429 is an explicit refusal: the request was not carried out.
                    wait = err.retry_after if err.retry_after is not None else self._delay(attempt)
                    if attempt >= self._max_attempts or wait > self._max_backoff:
                        raise
                    await asyncio.sleep(wait)
                except (SerwerSmsConnectionError, SerwerSmsServerError, SerwerSmsResponseError) as err:
                    if send:
                        raise SerwerSmsOutcomeUnknownError(
                            f"no clear answer to the send request ({err.gateway_message}); "
                            "the message may have been sent"
                        ) from err
                    # Uploads and reads may be repeated: at worst the gateway keeps an orphan file.
                    if attempt >= self._max_attempts:
                        raise
                    await asyncio.sleep(self._delay(attempt))
        finally:
            if probing:
                self._probing -= 1

    async def _attempt(
        self, endpoint: str, fields: dict[str, Any], upload: _Upload | None, *, send: bool, first: bool
    ) -> dict[str, Any]:
        """One request; a send holds one of the account's send slots for the request only.

        Never through a pause between attempts: in an outage every send would otherwise queue behind
        the others' back-off (50 alarms answered over 15 s instead of 1.5 s).
        """
        if first:
            self._fail_fast(endpoint)
        if not send:
            return await self._post_once(endpoint, fields, upload)
        async with self._parallel:
            if first:
                self._fail_fast(endpoint)  # the wait for a slot may have outlasted the gateway
            return await self._post_once(endpoint, fields, upload)

    def _fail_fast(self, endpoint: str) -> None:
        """Raise "not reached" at once while another call is retrying a gateway it could not reach.

        That call's retries find out when the gateway is back; a new call would only go through the
        same retry ladder (in a real outage each try may wait out a 10-s connect timeout). Nothing is
        sent, so the error is as true as one from a refused connection: a send may be tried again
        later (the outbox), and no answer of the gateway is ever turned into a retry.
        """
        if self._gateway_down and self._probing:
            raise _NotTriedError(f"{endpoint}: not tried, the gateway could not be reached a moment ago")

    def _note_reachable(self, reachable: bool, detail: str) -> None:
        """Tell the listeners when the gateway stops or starts answering (not at every request)."""
        if self._reachable is reachable:
            return
        # Unknown at start: a first answer is no news, a first failure is.
        news = self._reachable is not None or not reachable
        self._reachable = reachable
        if news:
            for listener in list(self._reachability_listeners):
                try:
                    listener(reachable, detail)
                except Exception:
                    # A listener's fault must not become the request's: a send's outcome stays known.
                    _LOGGER.exception("A reachability listener failed")

    def _delay(self, attempt: int) -> float:
        return float(min(self._backoff * 2 ** (attempt - 1), self._max_backoff))

    async def _post_once(
        self, endpoint: str, fields: dict[str, Any], upload: _Upload | None
    ) -> dict[str, Any]:
        url = f"{self._base_url}{endpoint}.json"
        headers = {"Accept": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        started = time.monotonic()
        try:
            if upload is not None:
                # A FormData can be sent only once, so each attempt builds its own.
                form = aiohttp.FormData()
                for key, value in self._body_fields(fields).items():
                    form.add_field(key, str(value))
                form.add_field(
                    "file",
                    upload.content,
                    filename=upload.filename,
                    content_type=upload.content_type,
                )
                request = self._session.post(url, data=form, headers=headers, timeout=self._timeout)
            else:
                request = self._session.post(
                    url, json=self._body_fields(fields), headers=headers, timeout=self._timeout
                )
            async with request as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                self._note_gateway_clock(response.headers.get("Date"))
                raw = await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as err:
            self._gateway_down = True
            error: SerwerSmsConnectionError = SerwerSmsNotReachedError(
                f"cannot connect to the gateway: {type(err).__name__}"
            )
            self._note_reachable(False, error.gateway_message)
            raise error from err
        except TimeoutError as err:
            # It connected: the gateway is there, only slow (and a send may have been carried out).
            self._gateway_down = False
            error = SerwerSmsTimeoutError(f"{endpoint}: no answer within {self._timeout.total:g} s")
            self._note_reachable(False, error.gateway_message)
            raise error from err
        except aiohttp.ClientError as err:
            self._gateway_down = False
            error = SerwerSmsConnectionError(f"{endpoint}: connection failed ({type(err).__name__})")
            self._note_reachable(False, error.gateway_message)
            raise error from err
        self._gateway_down = False
        # A 5xx is the gateway failing, not answering: it counts as unreachable until a real reply.
        self._note_reachable(status < 500, f"{endpoint}: HTTP {status}")
        _LOGGER.debug(
            "%s -> HTTP %s, %d bytes, %.0f ms",
            endpoint,
            status,
            len(raw),
            (time.monotonic() - started) * 1000,
        )
        return _interpret(endpoint, status, retry_after, raw)


def _since_boot() -> float:
    """Seconds on a clock that keeps counting while the machine is suspended (Linux), else monotonic.

    The monotonic clock stops during a suspend: a gateway time extrapolated on it would fall behind
    by as long as the machine slept (a seam for tests, which freeze the monotonic clock).
    """
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


def _gateway_time(moment: datetime) -> str:
    """A timezone-aware time as the gateway reads it: Warsaw local time, `YYYY-MM-DD HH:MM:SS`."""
    if moment.tzinfo is None:
        raise ValueError("date must be timezone-aware")
    return moment.astimezone(GATEWAY_TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")


def _merged_or_raised(outcomes: list[BatchOutcome]) -> SendResult:
    """`merge_batches`, or the error when no batch went through (one that may have gone out first)."""
    if all(outcome.result is None for outcome in outcomes):
        errors = [outcome.error for outcome in outcomes if outcome.error is not None]
        # A batch that may have gone out outweighs a refusal of the others: say so.
        unknown = next((err for err in errors if not is_refusal(err)), None)
        raise unknown or errors[0]
    return merge_batches(outcomes)


def chunked[T](items: Sequence[T], size: int) -> list[list[T]]:
    """`items` in order, in lists of at most `size`.

    The one place the gateway's per-request limits (100 numbers a send, 500 ids a report request)
    are applied, wherever they apply.
    """
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def is_refusal(err: SerwerSmsError) -> bool:
    """Whether a send that ended with `err` certainly sent nothing (refused, rate limited, not reached)."""
    return isinstance(err, SerwerSmsApiError | SerwerSmsRateLimitError | SerwerSmsNotReachedError)


def is_outage(err: SerwerSmsError) -> bool:
    """Whether `err` says only that the gateway did not answer (no connection, no reply, HTTP 5xx).

    Such a failure is what the reachability listeners hear about once per outage: a caller that
    logs them need not log it again at every failed try. Any other error is the gateway's answer.
    """
    if isinstance(err, SerwerSmsServerError):
        return err.status >= 500
    return isinstance(err, SerwerSmsConnectionError)


def merge_batches(outcomes: Sequence[BatchOutcome]) -> SendResult:
    """Every number of `outcomes` in order: the gateway's answer, else `unsent` or `unknown` by the error."""
    merged: list[RecipientResult] = []
    for outcome in outcomes:
        if outcome.result is not None:
            merged.extend(outcome.result.recipients)
        elif outcome.error is not None and is_refusal(outcome.error):
            merged.extend(
                RecipientResult(phone, UNSENT, None, outcome.error.code, outcome.error.gateway_message)
                for phone in outcome.phones
            )
        else:
            message = outcome.error.gateway_message if outcome.error is not None else None
            merged.extend(RecipientResult(phone, UNKNOWN, None, None, message) for phone in outcome.phones)
    return SendResult(tuple(merged))


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _error_in(body: Any) -> SerwerSmsApiError | None:
    """The gateway's error, when `body` is an error reply."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        text = message if isinstance(message, str) and message else str(error.get("type") or "gateway error")
        if isinstance(code, int) and not isinstance(code, bool):
            return error_for_code(code, text)
        if isinstance(code, str) and code.isdigit():
            return error_for_code(int(code), text)
        return SerwerSmsApiError(text)
    if error is not None:
        return SerwerSmsApiError(str(error)[:200])
    if body.get("success") is False:
        return SerwerSmsApiError("the gateway reported failure")
    return None


def _interpret(endpoint: str, status: int, retry_after: str | None, raw: bytes) -> dict[str, Any]:
    """Turn one HTTP reply into the body dict, or the matching error."""
    body = _decode(raw)
    if status == 401:
        error = _error_in(body)
        raise (
            error if isinstance(error, SerwerSmsAuthError) else SerwerSmsAuthError("unauthorized", code=1001)
        )
    if status == 429:
        raise SerwerSmsRateLimitError(
            f"{endpoint}: rate limited", retry_after=_parse_retry_after(retry_after)
        )
    if status >= 500:
        raise SerwerSmsServerError(f"{endpoint}: HTTP {status}", status=status)
    error = _error_in(body)
    if error is not None:
        raise error
    if not 200 <= status < 300:
        raise SerwerSmsServerError(f"{endpoint}: HTTP {status}", status=status)
    if not isinstance(body, dict):
        raise SerwerSmsResponseError(f"{endpoint}: the reply is not a JSON object")
    return body
