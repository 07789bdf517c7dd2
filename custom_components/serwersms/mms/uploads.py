"""Content hash → gateway file id: upload identical bytes once, persist the ids across restarts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import hashlib
from typing import Any, TypedDict

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from ..api import SerwerSmsClient

STORAGE_VERSION = 1
SAVE_DELAY = 1.0


def _storage_key(entry_id: str) -> str:
    return f"serwersms.{entry_id}.files"


class _StoredFile(TypedDict):
    id: str
    name: str
    size: int
    content_type: str


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file on the gateway; `uploaded` is False when an earlier upload's id was reused."""

    id: str
    name: str
    size: int
    content_type: str
    uploaded: bool

    def as_dict(self) -> dict[str, Any]:
        """The response shape of the contract."""
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "content_type": self.content_type,
            "uploaded": self.uploaded,
        }


class FileIdCache:
    """Uploads through the client, remembering which bytes already have a file id on this account."""

    def __init__(self, hass: HomeAssistant, entry_id: str, client: SerwerSmsClient) -> None:
        """Bind the cache to one account's storage file."""
        self._client = client
        self._store: Store[dict[str, _StoredFile]] = Store(hass, STORAGE_VERSION, _storage_key(entry_id))
        self._by_hash: dict[str, _StoredFile] = {}
        self._in_flight: dict[str, asyncio.Future[UploadedFile]] = {}

    async def async_load(self) -> None:
        """Read the persisted ids."""
        self._by_hash = dict(await self._store.async_load() or {})

    @staticmethod
    async def async_remove_store(hass: HomeAssistant, entry_id: str) -> None:
        """Delete an account's persisted ids (the entry is being removed)."""
        await Store[dict[str, _StoredFile]](hass, STORAGE_VERSION, _storage_key(entry_id)).async_remove()

    async def async_save(self) -> None:
        """Write the ids now (on unload), rather than after the save delay."""
        await self._store.async_save(self._by_hash)

    def __len__(self) -> int:
        """How many ids are remembered."""
        return len(self._by_hash)

    def forget(self, file_ids: set[str]) -> None:
        """Forget ids the gateway no longer knows."""
        self._by_hash = {key: value for key, value in self._by_hash.items() if value["id"] not in file_ids}
        self._store.async_delay_save(lambda: self._by_hash, SAVE_DELAY)

    async def async_get_or_upload(self, content: bytes, filename: str, content_type: str) -> UploadedFile:
        """The file id of `content`, uploaded only when unknown; concurrent callers share one upload."""
        digest = hashlib.sha256(content).hexdigest()
        if (known := self._by_hash.get(digest)) is not None:
            return UploadedFile(
                known["id"], known["name"], known["size"], known["content_type"], uploaded=False
            )
        if (pending := self._in_flight.get(digest)) is not None:
            shared = await asyncio.shield(pending)
            return UploadedFile(shared.id, shared.name, shared.size, shared.content_type, uploaded=False)
        future: asyncio.Future[UploadedFile] = asyncio.get_running_loop().create_future()
        self._in_flight[digest] = future
        try:
            file_id = await self._client.upload_file(content, filename=filename, content_type=content_type)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as err:
            future.set_exception(err)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            self._in_flight.pop(digest, None)
        uploaded = UploadedFile(file_id, filename, len(content), content_type, uploaded=True)
        self._by_hash[digest] = {
            "id": file_id,
            "name": filename,
            "size": len(content),
            "content_type": content_type,
        }
        self._store.async_delay_save(lambda: self._by_hash, SAVE_DELAY)
        future.set_result(uploaded)
        return uploaded
