"""Content hash → gateway file id: upload identical bytes once, persist the ids across restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any, TypedDict

from homeassistant.core import HomeAssistant

from .. import storage
from ..api import SerwerSmsClient
from ..storage import AccountStore

STORAGE_VERSION = 1
SAVE_DELAY = 1.0
# The hash → file-id table keeps the 1,000 most recently used pictures (least recently used out).
# A hit saves an upload only when identical bytes are sent again: a static picture (file, URL, image
# entity) or one snapshot sent by several calls. Camera frames are never byte-identical over time, so
# an old entry is almost never hit again. 1,000 is ten days of distinct pictures at the default daily
# limit of 100 MMS, in a `.storage` file of about 200 KB (~200 bytes of JSON an entry; scripts/bench).
MAX_REMEMBERED_FILES = 1000


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
    """Uploads through the client, remembering which bytes already have a file id on this account.

    Concurrent callers with the same bytes share one upload. The upload runs as its own task, so a
    caller that is cancelled (an automation reloaded mid-alarm) stops waiting without cancelling it
    for the others.
    """

    def __init__(self, hass: HomeAssistant, entry_id: str, client: SerwerSmsClient) -> None:
        """Bind the cache to one account's storage file."""
        self._hass = hass
        self._client = client
        self._store: AccountStore[dict[str, _StoredFile]] = AccountStore(
            hass, entry_id, "files", version=STORAGE_VERSION, large=True
        )
        self._by_hash: dict[str, _StoredFile] = {}
        self._in_flight: dict[str, asyncio.Task[UploadedFile]] = {}
        self._upload_listeners: list[Callable[[str], None]] = []
        self._closed = False

    def add_upload_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(file_id)` as soon as a new file is on the gateway.

        Told even when every caller was cancelled meanwhile (the upload runs on): the storage clean-up
        must know every file the integration put on the gateway, or it stays there forever.
        """
        self._upload_listeners.append(listener)

    async def async_load(self) -> None:
        """Read the persisted ids (the most recently used last)."""
        self._by_hash = dict(await self._store.async_load_or_empty() or {})
        self._evict()

    @staticmethod
    async def async_remove_store(hass: HomeAssistant, entry_id: str) -> None:
        """Delete an account's persisted ids (the entry is being removed)."""
        await storage.async_remove(hass, entry_id, "files")

    async def async_stop(self) -> None:
        """Write the ids now (the account unloads), and never again.

        An upload still running when the account is removed must not bring its storage file back.
        """
        self._closed = True
        await self._store.async_save(self._by_hash)

    def __len__(self) -> int:
        """How many ids are remembered."""
        return len(self._by_hash)

    def _schedule_save(self) -> None:
        if not self._closed:
            self._store.async_delay_save(lambda: self._by_hash, SAVE_DELAY)

    def _evict(self) -> None:
        """Least recently used out, down to the bound (dicts keep insertion order)."""
        while len(self._by_hash) > MAX_REMEMBERED_FILES:
            del self._by_hash[next(iter(self._by_hash))]

    def forget(self, file_ids: Collection[str]) -> None:
        """Forget ids the gateway no longer knows."""
        self._by_hash = {key: value for key, value in self._by_hash.items() if value["id"] not in file_ids}
        self._schedule_save()

    async def async_get_or_upload(
        self, content: bytes, filename: str, content_type: str, digest: str
    ) -> UploadedFile:
        """The file id of `content` (whose SHA-256 is `digest`), uploaded only when unknown."""
        if (known := self._by_hash.pop(digest, None)) is not None:
            self._by_hash[digest] = known  # most recently used: last out
            self._schedule_save()
            return UploadedFile(
                known["id"], known["name"], known["size"], known["content_type"], uploaded=False
            )
        task = self._in_flight.get(digest)
        shared = task is not None
        if task is None:
            task = self._in_flight[digest] = self._hass.async_create_task(
                self._upload(content, filename, content_type, digest)
            )
            task.add_done_callback(lambda done: self._upload_done(digest, done))
        # Waited on, not shielded: a caller cancelled before the upload failed would otherwise have
        # asyncio log the failure as an error ("exception in shielded future"), though each caller
        # still waiting is told of it.
        await asyncio.wait((task,))
        uploaded = task.result()
        return replace(uploaded, uploaded=False) if shared else uploaded

    def _upload_done(self, digest: str, task: asyncio.Task[UploadedFile]) -> None:
        if self._in_flight.get(digest) is task:
            del self._in_flight[digest]
        if not task.cancelled():
            task.exception()  # every waiter may be gone; they re-raise it themselves otherwise

    async def _upload(self, content: bytes, filename: str, content_type: str, digest: str) -> UploadedFile:
        file_id = await self._client.upload_file(content, filename=filename, content_type=content_type)
        self._by_hash[digest] = {
            "id": file_id,
            "name": filename,
            "size": len(content),
            "content_type": content_type,
        }
        self._evict()
        self._schedule_save()
        for listener in self._upload_listeners:
            listener(file_id)
        return UploadedFile(file_id, filename, len(content), content_type, uploaded=True)
