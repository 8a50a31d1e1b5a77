"""Object keys of uploaded images: who may attach an object, for what, is in its name.

A key reads `<purpose>/<owner id>/<token>.<ext>`, e.g.
`avatar/42/kZ3…Qw.jpg`. Only the server makes keys, and only the server can sign an
upload URL for one, so an object under `avatar/42/` was uploaded through a URL
issued to user 42 for an avatar: attaching checks the key's owner and purpose
against the caller's and needs no record of issued keys. The token (24 random
bytes) makes keys unguessable. Parsing is a full match of that shape, so a
client-supplied key can never carry `..`, a second slash, a leading slash or an
escape into another prefix.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import Enum

from common.errors import BadUserInput


class ImagePurpose(Enum):
    """What an image is for; names are the GraphQL enum's (API.md), values the key prefixes."""

    AVATAR = "avatar"
    HOMESTAY_BANNER = "banner"
    BUSINESS_COVER = "cover"


# The image types accepted, and the extension each gets in its key.
EXTENSIONS: dict[str, str] = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
CONTENT_TYPES: dict[str, str] = {ext: content_type for content_type, ext in EXTENSIONS.items()}

_TOKEN_BYTES = 24  # 32 URL-safe characters
_KEY = re.compile(
    r"(?P<purpose>avatar|banner|cover)/(?P<owner>[1-9][0-9]{0,18})/"
    r"(?P<token>[A-Za-z0-9_-]{32})\.(?P<ext>jpg|png|webp)"
)
KEY_MAX_LENGTH = 80  # longer than any key `new_key` makes


@dataclass(frozen=True)
class ImageKey:
    """A parsed key: its purpose, owner and declared type (from the extension)."""

    purpose: ImagePurpose
    owner_id: int
    token: str
    content_type: str

    def __str__(self) -> str:
        ext = EXTENSIONS[self.content_type]
        return f"{self.purpose.value}/{self.owner_id}/{self.token}.{ext}"


def check_content_type(content_type: str, *, field: str = "contentType") -> str:
    """The declared type, normalised; anything but JPEG, PNG or WebP is refused."""
    normalised = content_type.strip().lower()
    if normalised not in EXTENSIONS:
        raise BadUserInput(
            "Images must be image/jpeg, image/png or image/webp.",
            field=field,
        )
    return normalised


def new_key(purpose: ImagePurpose, owner_id: int, content_type: str) -> ImageKey:
    """A fresh, unguessable key for one upload by `owner_id`."""
    if owner_id <= 0:
        raise ValueError("an image key needs a real owner")
    return ImageKey(
        purpose=purpose,
        owner_id=owner_id,
        token=secrets.token_urlsafe(_TOKEN_BYTES),
        content_type=check_content_type(content_type),
    )


def parse_key(raw: str) -> ImageKey | None:
    """The key's parts, or None when it is not exactly a key `new_key` could have made."""
    if len(raw) > KEY_MAX_LENGTH:
        return None
    match = _KEY.fullmatch(raw)
    if match is None:
        return None
    return ImageKey(
        purpose=ImagePurpose(match["purpose"]),
        owner_id=int(match["owner"]),
        token=match["token"],
        content_type=CONTENT_TYPES[match["ext"]],
    )
