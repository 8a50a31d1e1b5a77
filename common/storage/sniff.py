"""What an image really is, from its first bytes (its magic numbers), not its name.

Only JPEG, PNG and WebP are recognised; everything else (text, HTML, SVG, GIF, a
PDF renamed .png) is not an image here.
"""

from __future__ import annotations

# Enough bytes for every signature below; attaching reads only these (a ranged GET).
SNIFF_BYTES = 16

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_WEBP_CHUNKS = (b"VP8 ", b"VP8L", b"VP8X")


def sniff_image_type(head: bytes) -> str | None:
    """The content type the bytes start like, or None.

    WebP is a RIFF container: `RIFF`, a 4-byte size, `WEBP`, then a VP8/VP8L/VP8X
    chunk; a RIFF of another kind (WAV, AVI) is not WebP.
    """
    if head.startswith(_PNG):
        return "image/png"
    if head.startswith(_JPEG):
        return "image/jpeg"
    if (
        len(head) >= 16
        and head[:4] == b"RIFF"
        and head[8:12] == b"WEBP"
        and head[12:16] in _WEBP_CHUNKS
    ):
        return "image/webp"
    return None
