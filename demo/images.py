"""Demo pictures: landscape banners drawn with Pillow and put in the image bucket.

So the home page shows real pictures offline. A dozen images are drawn (a sky
gradient, a sun, three ranges of hills, ≈ 12 KB JPEG each, ≈ 0.1 s of CPU together) and
uploaded once; homestays and businesses pick from them. Only when the store
answers and Pillow is installed (it is a development dependency): otherwise the
catalog keeps its placeholder URLs and the seed is no slower.
"""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Sequence
from dataclasses import replace

from common.settings import Settings
from demo.catalog import Catalog

logger = logging.getLogger("looklook.demo")

PICTURES = 12
SIZE = (750, 500)  # the mini-program's banner ratio
KEY_PREFIX = "demo"

# (sky top, sky bottom, nearest hills) per picture family: dawn, noon, dusk, night-blue.
_PALETTES = (
    ((255, 183, 130), (255, 236, 200), (70, 110, 80)),
    ((90, 160, 230), (200, 230, 250), (60, 120, 70)),
    ((120, 80, 160), (250, 150, 110), (70, 60, 90)),
    ((30, 50, 110), (110, 150, 200), (40, 60, 80)),
)


def _mix(a: Sequence[int], b: Sequence[int], t: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def draw_picture(number: int) -> bytes:
    """One JPEG landscape, the same for the same number."""
    from PIL import Image, ImageDraw

    rng = random.Random(number)  # noqa: S311 - a drawing, not a secret
    top, bottom, hills = _PALETTES[number % len(_PALETTES)]
    width, height = SIZE
    # The sky: a vertical gradient, one line per row (fast: no per-pixel work).
    gradient = Image.linear_gradient("L").resize(SIZE)
    image = Image.composite(Image.new("RGB", SIZE, bottom), Image.new("RGB", SIZE, top), gradient)
    draw = ImageDraw.Draw(image)
    sun_x, sun_y, radius = rng.randint(80, width - 80), rng.randint(60, 200), rng.randint(28, 50)
    draw.ellipse(
        (sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius),
        fill=_mix(top, (255, 250, 230), 0.8),
    )
    for layer in range(3):  # far, middle, near: lighter to darker
        base = height * (0.55 + 0.13 * layer)
        points = [(0, height)]
        for x in range(0, width + 50, 50):
            points.append((x, round(base - rng.uniform(0, 90 - 20 * layer))))
        points.append((width, height))
        draw.polygon(points, fill=_mix(bottom, hills, 0.45 + 0.27 * layer))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


async def upload_pictures(settings: Settings) -> list[str] | None:
    """The public URLs of the demo pictures, uploaded now; None when that cannot be done."""
    try:
        import PIL  # noqa: F401  # a development dependency
    except ImportError:
        return None
    from common.errors import ServiceUnavailable
    from common.storage.client import ObjectStorage

    storage = ObjectStorage(settings.model_copy(update={"s3_timeout_seconds": 2.0}))
    try:
        if not await storage.bucket_exists():
            return None
        urls = []
        for number in range(1, PICTURES + 1):
            key = f"{KEY_PREFIX}/landscape-{number:02d}.jpg"
            await storage.put(key, draw_picture(number), content_type="image/jpeg")
            urls.append(storage.public_url(key))
        return urls
    except ServiceUnavailable:
        logger.info("image storage unreachable: the demo catalog keeps placeholder pictures")
        return None
    finally:
        await storage.aclose()


def with_pictures(catalog: Catalog, urls: Sequence[str]) -> Catalog:
    """The catalog with every homestay's banner (three pictures) and business cover taken
    from `urls`, in a fixed pattern so neighbours in a list look different."""
    count = len(urls)
    return replace(
        catalog,
        businesses=tuple(
            replace(spec, cover=urls[index % count])
            for index, spec in enumerate(catalog.businesses)
        ),
        homestays=tuple(
            replace(spec, banner=",".join(urls[(index * 5 + step) % count] for step in range(3)))
            for index, spec in enumerate(catalog.homestays)
        ),
    )
