"""Runtime data of an account and the hourly MMS-credits coordinator."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
import logging
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .api import Limit, SerwerSmsAuthError, SerwerSmsClient, SerwerSmsConnectionError, SerwerSmsError
from .const import DOMAIN, ISSUE_CREDITS_EXHAUSTED, ISSUE_MMS_NOT_PERMITTED
from .issue import clear_issue

if TYPE_CHECKING:
    # Only the runtime data's field types: every platform imports this module, and none of them
    # needs the send pipeline loaded to get at its config entry type.
    from .alarms import AlarmLadder
    from .delivery import DeliveryTracker
    from .guard import SpendingGuard
    from .heartbeat import Heartbeat
    from .housekeeping import GatewayHousekeeping
    from .lookback import LookbackRecorder
    from .mms.outcome import SendAnnouncer
    from .mms.sender import MmsSender
    from .mms.uploads import FileIdCache
    from .outbox import Outbox

_LOGGER = logging.getLogger(__name__)

# The API documentation asks not to poll account/limits more often than about hourly.
UPDATE_INTERVAL = timedelta(hours=1)

type SerwerSmsConfigEntry = ConfigEntry[SerwerSmsRuntimeData]


@dataclass(slots=True)
class SerwerSmsRuntimeData:
    """What a loaded account holds."""

    client: SerwerSmsClient
    account_device_id: str
    coordinator: CreditsCoordinator
    files: FileIdCache
    sender: MmsSender
    delivery: DeliveryTracker
    guard: SpendingGuard
    outbox: Outbox
    housekeeping: GatewayHousekeeping
    announcer: SendAnnouncer
    heartbeat: Heartbeat
    alarms: AlarmLadder
    lookback: LookbackRecorder | None = None


class CreditsCoordinator(DataUpdateCoordinator[dict[str, Limit]]):
    """Polls the account's limits, by service (`mms`, `eco`, `full`, `voice`, …) as the gateway lists them."""

    config_entry: SerwerSmsConfigEntry

    def __init__(self, hass: HomeAssistant, entry: SerwerSmsConfigEntry, client: SerwerSmsClient) -> None:
        """Poll hourly."""
        super().__init__(hass, _LOGGER, config_entry=entry, name=DOMAIN, update_interval=UPDATE_INTERVAL)
        self._client = client
        self._unreachable = False  # the last poll could not reach the gateway (or got no answer)
        entry.async_on_unload(client.add_reachability_listener(self._async_reachability_changed))

    @property
    def mms(self) -> Limit | None:
        """The MMS limit, or None when unknown (no poll answered yet, or none listed)."""
        return (self.data or {}).get("mms")

    def limit(self, service: str) -> Limit | None:
        """One service's limit (`eco`, `full`, `voice`, `mms`), or None when unknown."""
        return (self.data or {}).get(service)

    async def _async_update_data(self) -> dict[str, Limit]:
        try:
            limits = {limit.type: limit for limit in await self._client.account_limits()}
        except SerwerSmsAuthError as err:
            self._unreachable = False
            raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="auth_failed") from err
        except SerwerSmsError as err:
            self._unreachable = isinstance(err, SerwerSmsConnectionError)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="update_failed",
                translation_placeholders={"message": err.gateway_message},
            ) from err
        self._unreachable = False
        limit = limits.get("mms")
        if limit is not None and (limit.unlimited or (limit.value or 0) > 0):
            clear_issue(self.hass, self.config_entry, ISSUE_CREDITS_EXHAUSTED)
        if limit is not None and limit.raw_value != "not_available":
            clear_issue(self.hass, self.config_entry, ISSUE_MMS_NOT_PERMITTED)
        return limits

    @callback
    def _async_reachability_changed(self, reachable: bool, detail: str) -> None:
        """Log an outage once when it starts and once when it ends, whatever fails meanwhile.

        Every request of the account goes through its client (credits, sends, uploads, delivery
        reports, the outbox's tries, the storage clean-up), so this one place speaks for them all;
        they log a failure that only says the gateway is unreachable at debug level.
        """
        if reachable:
            _LOGGER.info("%s: the SerwerSMS gateway answers again", self.config_entry.title)
        else:
            _LOGGER.warning(
                "%s: the SerwerSMS gateway cannot be reached (%s); logged again only when it answers",
                self.config_entry.title,
                detail,
            )

    @callback
    def async_gateway_answered(self) -> None:
        """A send got through: when the last poll could not reach the gateway, poll once now.

        After an outage (often at start-up, before the router is up) the credits would otherwise
        stay unavailable for up to an hour. A poll that never reached the gateway asked it nothing,
        so this keeps to about one answered poll an hour; a drain of many MMS polls once. A poll
        the gateway refused is left to the hourly schedule: it would likely refuse again.
        """
        if not self._unreachable:
            return
        self._unreachable = False  # one poll, however many MMS get through before it answers
        self.config_entry.async_create_background_task(
            self.hass, self.async_refresh(), f"{DOMAIN} credits after an outage"
        )

    def note_sent(self, queued: int, service: str = "mms") -> None:
        """Count messages just sent against `service`'s credits, without asking the gateway again.

        Not `async_set_updated_data`: that would restart the hourly timer (an account sending more
        often than hourly would never be polled again, and a top-up never seen) and mark a failed
        poll as a success.
        """
        limit = self.limit(service)
        if limit is not None and limit.value is not None:
            remaining = max(0, limit.value - queued)
            self.data = {**self.data, service: replace(limit, value=remaining, raw_value=str(remaining))}
            self.async_update_listeners()
