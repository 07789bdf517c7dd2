"""An account's storage: a documented few versioned stores, each owned by one part, with migrations.

One store per part rather than one per account, on purpose: each part writes on its own schedule (the
daily count at once after a send, the file-id table a second after an upload, the clean-up's ledger
every few seconds at most), and one shared file would rewrite every part's data — up to ~1.5 MB of
ledger — for each MMS counted. Each lives in `<config>/.storage/`:

- `serwersms.<entry_id>.files` — `mms/uploads.py`, content hash → file id (≤ 1,000, ~200 KB; large);
- `serwersms.<entry_id>.uploads` — `housekeeping.py`, own uploads by last use (≤ 50,000 ids, ~1.5 MB; large);
- `serwersms.<entry_id>.delivery` — `delivery.py`, message ids awaiting a final report (24 h at most);
- `serwersms.<entry_id>.guard` — `guard.py`, today's count per number and the cooldowns;
- `serwersms.<entry_id>.heartbeat` — `heartbeat.py`, the ids of the heartbeat SMS scheduled at the gateway;
- `serwersms.<entry_id>.alarms` — `alarms.py`, open alarms (step, deadline, SMS ids) and reply ids handled;
- `serwersms.<entry_id>.outbox/` — `outbox_disk.py`, one file per waiting MMS (its own `version`, checked).

The large ones are serialized in the executor, not in the event loop. A store written by an older
version is brought up to date by its part's migration function when it is loaded (Home Assistant's
`Store` calls it with the old version and data); a store written by a newer version is refused by
`Store` (a downgrade): the part then starts empty rather than guessing, and says so in the log.
Removing an account removes every store (`async_remove_entry`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
import logging
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.storage import Store

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

# (old major version, old minor version, old data) → data of the current version.
type Migration = Callable[[int, int, Any], Awaitable[Any]]


def storage_key(entry_id: str, part: str) -> str:
    """The `.storage` key of one account's `part` (`files`, `uploads`, `delivery`, `guard`)."""
    return f"{DOMAIN}.{entry_id}.{part}"


class AccountStore[T: Mapping[str, Any]](Store[T]):
    """A part's versioned store: migrated when loaded, serialized off the loop when it is large."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        part: str,
        *,
        version: int,
        minor_version: int = 1,
        migrate: Migration | None = None,
        large: bool = False,
    ) -> None:
        """One account's store of `part`, at `version`.`minor_version`."""
        super().__init__(
            hass,
            version,
            storage_key(entry_id, part),
            minor_version=minor_version,
            serialize_in_event_loop=not large,
        )
        self._migrate = migrate
        self._part = part

    async def _async_migrate_func(self, old_major_version: int, old_minor_version: int, old_data: Any) -> Any:
        if self._migrate is None:
            # Only the minor version moved (fields added with defaults): the data is read as it is.
            return old_data
        _LOGGER.debug(
            "Migrating SerwerSMS %s storage from %s.%s", self._part, old_major_version, old_minor_version
        )
        return await self._migrate(old_major_version, old_minor_version, old_data)

    async def async_load_or_empty(self) -> T | None:
        """The stored data, or None — also when it was written by a newer version (a downgrade)."""
        try:
            return await self.async_load()
        except HomeAssistantError:  # UnsupportedStorageVersionError: written by a newer version
            _LOGGER.warning(
                "The SerwerSMS %s storage was written by a newer version of the integration; starting empty",
                self._part,
            )
            return None


async def async_remove(hass: HomeAssistant, entry_id: str, part: str) -> None:
    """Delete one account's store of `part` (the account is being removed)."""
    await Store[Any](hass, 1, storage_key(entry_id, part)).async_remove()
