"""Image keys and magic-byte sniffing: what decides whether an upload may be attached."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from common.errors import BadUserInput
from common.storage.keys import (
    KEY_MAX_LENGTH,
    ImagePurpose,
    check_content_type,
    new_key,
    parse_key,
)
from common.storage.sniff import SNIFF_BYTES, sniff_image_type


def _encoded(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 90)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")],
)
def test_real_images_are_recognised_from_their_first_bytes(fmt: str, content_type: str) -> None:
    assert sniff_image_type(_encoded(fmt)[:SNIFF_BYTES]) == content_type


def test_lossless_webp_is_webp() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (4, 4)).save(out, "WEBP", lossless=True)
    assert sniff_image_type(out.getvalue()[:SNIFF_BYTES]) == "image/webp"


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello, this is text",
        b"<svg xmlns='http://www.w3.org/2000/svg'>",
        b"<html><script>alert(1)</script>",
        b"GIF89a\x01\x00\x01\x00",
        b"%PDF-1.7\n",
        b"\x89PNG\r\n",  # a PNG signature cut short
        b"\xff\xd8",  # likewise JPEG
        b"RIFF" + struct.pack("<I", 100) + b"WAVEfmt ",  # a RIFF, but sound
        b"RIFF" + struct.pack("<I", 100) + b"WEBP",  # no VP8 chunk after it
        b"RIFF" + struct.pack("<I", 100) + b"WEBPJUNK",
        b" \x89PNG\r\n\x1a\n",  # the signature must be at the start
    ],
)
def test_everything_else_is_not_an_image(head: bytes) -> None:
    assert sniff_image_type(head) is None


def test_a_new_key_encodes_purpose_owner_and_type_and_parses_back() -> None:
    key = new_key(ImagePurpose.HOMESTAY_BANNER, 42, "image/webp")
    text = str(key)
    assert text.startswith("banner/42/") and text.endswith(".webp")
    assert parse_key(text) == key
    assert len(text) <= KEY_MAX_LENGTH


def test_keys_are_unguessable() -> None:
    tokens = {new_key(ImagePurpose.AVATAR, 1, "image/png").token for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(token) == 32 for token in tokens)  # 24 random bytes


@pytest.mark.parametrize(
    ("purpose", "prefix"),
    [
        (ImagePurpose.AVATAR, "avatar"),
        (ImagePurpose.HOMESTAY_BANNER, "banner"),
        (ImagePurpose.BUSINESS_COVER, "cover"),
    ],
)
def test_each_purpose_has_its_prefix(purpose: ImagePurpose, prefix: str) -> None:
    key = new_key(purpose, 7, "image/jpeg")
    assert str(key).startswith(f"{prefix}/7/") and str(key).endswith(".jpg")
    parsed = parse_key(str(key))
    assert parsed is not None and parsed.purpose is purpose


TOKEN = "A" * 31 + "_"


@pytest.mark.parametrize(
    "raw",
    [
        f"avatar/7/../8/{TOKEN}.png",
        f"avatar/7/{TOKEN}.png/../../avatar/8/{TOKEN}.png",
        f"/avatar/7/{TOKEN}.png",
        f"avatar//7/{TOKEN}.png",
        f"avatar/7/sub/{TOKEN}.png",
        f"avatar/7/{TOKEN}.png\n",
        f" avatar/7/{TOKEN}.png",
        f"avatar/7/{TOKEN}.png?x=1",
        f"avatar/7/{TOKEN}%2e.png",
        f"avatar/7/{TOKEN}.PNG",
        f"avatar/7/{TOKEN}.gif",
        f"avatar/7/{TOKEN}.svg",
        f"avatar/7/{TOKEN}",
        f"Avatar/7/{TOKEN}.png",
        f"header/7/{TOKEN}.png",
        f"avatar/07/{TOKEN}.png",
        f"avatar/0/{TOKEN}.png",
        f"avatar/-7/{TOKEN}.png",
        f"avatar/{'9' * 20}/{TOKEN}.png",
        f"avatar/7/{TOKEN[:-1]}.png",
        f"avatar/7/{TOKEN}A.png",
        f"avatar/7/{'.' * 32}.png",
        f"avatar/７/{TOKEN}.png",  # a full-width digit
        "",
    ],
)
def test_anything_but_an_exact_key_is_refused(raw: str) -> None:
    assert parse_key(raw) is None


@pytest.mark.parametrize("declared", ["image/jpeg", "image/png", "image/webp", " Image/PNG "])
def test_jpeg_png_and_webp_are_accepted(declared: str) -> None:
    assert check_content_type(declared) == declared.strip().lower()


@pytest.mark.parametrize(
    "declared", ["image/gif", "image/svg+xml", "text/html", "image/jpg", "image/png; x", ""]
)
def test_other_content_types_are_refused_on_the_field(declared: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        check_content_type(declared)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "contentType"}
