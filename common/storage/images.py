"""Uploading and attaching images: what every subgraph that shows a picture shares.

1. `presign_upload` gives the client a key and a presigned PUT for it; the bytes go
   straight to object storage, never through a subgraph.
2. The client attaches the key (`avatarKey`, `bannerKey`, `coverKey`);
   `claim_image` checks it before anything is written and returns the URL to store.

An upload URL cannot limit the size of a PUT, and a client can put anything under
a key, even again after attaching it (until the URL expires): so `claim_image`
checks the key's owner and purpose, then copies the object under `attached/`
(where no upload URL reaches), removes the upload, and checks the copy's size and
first bytes. What is attached can no longer change; what fails is deleted (it is
the caller's own upload, under their own key).

3. An upload never attached is deleted by the scheduler
   (`purge_unattached_uploads`) once it is IMAGE_UPLOAD_RETENTION_SECONDS old, so
   abandoned uploads do not pile up in the bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from common.errors import BadUserInput
from common.models import utcnow
from common.patch import KEEP, Patch
from common.settings import Settings
from common.storage.client import ObjectStorage
from common.storage.keys import (
    EXTENSIONS,
    ImagePurpose,
    check_content_type,
    new_key,
    parse_key,
)
from common.storage.sniff import SNIFF_BYTES, sniff_image_type

# Checked images live under this prefix: no upload URL is ever signed for a key in it.
ATTACHED_PREFIX = "attached"


@dataclass(frozen=True)
class ImageUpload:
    """How to upload one image (the GraphQL `ImageUpload`)."""

    image_key: str
    upload_url: str
    method: str
    headers: dict[str, str]
    max_bytes: int
    expires_at: datetime


def max_bytes(settings: Settings, purpose: ImagePurpose) -> int:
    """The largest image accepted for a purpose (AVATAR_MAX_BYTES and siblings)."""
    limit: int = getattr(settings, f"{purpose.name.lower()}_max_bytes")
    return limit


async def presign_upload(
    storage: ObjectStorage,
    *,
    owner_id: int,
    purpose: ImagePurpose,
    content_type: str,
) -> ImageUpload:
    """A fresh key for `owner_id`'s image and a short-lived URL to PUT it to.

    The Content-Type header is signed into the URL, so the object is stored (and
    later served) as the declared type and nothing else.
    """
    key = new_key(purpose, owner_id, check_content_type(content_type))
    expires_in = storage.settings.image_upload_expiry_seconds
    issued = utcnow()
    url = await storage.presign_put(str(key), content_type=key.content_type, expires_in=expires_in)
    return ImageUpload(
        image_key=str(key),
        upload_url=url,
        method="PUT",
        headers={"Content-Type": key.content_type},
        max_bytes=max_bytes(storage.settings, purpose),
        expires_at=issued + timedelta(seconds=expires_in),
    )


async def claim_image(
    storage: ObjectStorage,
    raw_key: str,
    *,
    owner_id: int,
    purpose: ImagePurpose,
    field: str,
) -> str:
    """The public URL of an uploaded image that `owner_id` may attach for `purpose`.

    Refused with BAD_USER_INPUT (`field`): a key that is not ours in shape, another
    user's key, a key of another purpose, nothing uploaded under it, an object
    larger than the purpose allows, or bytes that are not an image of the key's
    type (JPEG / PNG / WebP by their magic numbers; only the first bytes are read).
    """
    key = parse_key(raw_key)  # exactly as issued: no trimming, no decoding
    if key is None or key.owner_id != owner_id:
        # Another user's key reads like an unknown one: keys are not to be probed.
        raise BadUserInput("This image key is not one of your uploads.", field=field)
    if key.purpose is not purpose:
        raise BadUserInput("This image was uploaded for something else.", field=field)
    upload = str(key)
    stat = await storage.stat(upload)
    if stat is None:
        raise BadUserInput("Nothing was uploaded under this image key.", field=field)
    limit = max_bytes(storage.settings, purpose)
    if stat.size > limit:
        await storage.delete(upload)
        raise BadUserInput(f"The image is larger than {limit} bytes.", field=field)
    # The upload URL may still be valid: its holder could PUT other bytes after the check.
    # So the bytes checked are a copy under a key no URL was issued for, which is what
    # gets attached; the upload itself is removed.
    attached = f"{ATTACHED_PREFIX}/{upload}"
    await storage.copy(upload, attached)
    await storage.delete(upload)
    copied = await storage.stat(attached)
    if copied is None or copied.size > limit:
        await storage.delete(attached)
        raise BadUserInput(f"The image is larger than {limit} bytes.", field=field)
    head = await storage.read_prefix(attached, SNIFF_BYTES)
    if sniff_image_type(head) != key.content_type:
        await storage.delete(attached)
        kind = EXTENSIONS[key.content_type].upper()
        raise BadUserInput(f"The uploaded file is not a {kind} image.", field=field)
    return storage.public_url(attached)


async def claim_given(
    storage: ObjectStorage,
    raw_key: Patch[str | None],
    *,
    owner_id: int,
    purpose: ImagePurpose,
    field: str,
) -> Patch[str | None]:
    """`claim_image` for an optional input field: KEEP (left out) and None (remove the
    image) pass through; a key becomes its checked URL."""
    if raw_key is KEEP or raw_key is None:
        return raw_key
    return await claim_image(storage, raw_key, owner_id=owner_id, purpose=purpose, field=field)


async def purge_unattached_uploads(storage: ObjectStorage, *, uploaded_before: datetime) -> int:
    """Delete uploads written before `uploaded_before` that were never attached.

    An attached image lives under `attached/`; an upload left under its own key was
    never attached (or failed its checks). Only keys of our exact shape are touched,
    so anything else an operator keeps in the bucket stays. Returns how many went.
    """
    purged = 0
    for purpose in ImagePurpose:
        for key in await storage.keys_written_before(f"{purpose.value}/", uploaded_before):
            if parse_key(key) is not None:
                await storage.delete(key)
                purged += 1
    return purged
