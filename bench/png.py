"""A dependency-free PNG bar chart (zlib + struct), used when matplotlib is not installed.

Horizontal bars, one per scenario, labelled with its letter and requests/second in
a 3x5 pixel font scaled up. Crude on purpose: matplotlib draws the real chart.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

_FONT = {  # 3x5 glyphs, rows top to bottom, bits left to right
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 1, 1),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), "A": (2, 5, 7, 5, 5), "B": (6, 5, 6, 5, 6),
    "C": (7, 4, 4, 4, 7), "D": (6, 5, 5, 5, 6), "E": (7, 4, 6, 4, 7), " ": (0, 0, 0, 0, 0),
    "R": (6, 5, 6, 5, 5), "P": (7, 5, 7, 4, 4), "S": (7, 4, 7, 1, 7),
}  # fmt: skip
_COLORS = [(76, 114, 176), (221, 132, 82), (85, 168, 104), (196, 78, 82), (129, 114, 179)]


def bar_chart(path: Path, labels: Sequence[str], values: Sequence[float]) -> None:
    width, row, scale, left = 900, 60, 4, 60
    height = row * len(values) + 20
    pixels = [[(255, 255, 255)] * width for _ in range(height)]

    def rect(x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
        for y in range(max(y0, 0), min(y1, height)):
            line = pixels[y]
            for x in range(max(x0, 0), min(x1, width)):
                line[x] = color

    def text(x: int, y: int, value: str) -> None:
        for char in value.upper():
            for r, bits in enumerate(_FONT.get(char, _FONT[" "])):
                for c in range(3):
                    if bits >> (2 - c) & 1:
                        rect(x + c * scale, y + r * scale, x + (c + 1) * scale, y + (r + 1) * scale,
                             (0, 0, 0))  # fmt: skip
            x += 4 * scale

    top = max(values) or 1.0
    span = width - left - 200
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 10 + i * row
        text(10, y + 18, label)
        end = left + int(span * value / top)
        rect(left, y + 10, max(end, left + 1), y + row - 10, _COLORS[i % len(_COLORS)])
        text(end + 10, y + 18, f"{value:.0f} RPS")
    raw = b"".join(b"\x00" + bytes(c for pixel in line for c in pixel) for line in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    )
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)
