"""bench/results.png from a `make bench` report, drawn with Pillow (a pinned dev dependency).

Three panels, one per question the bench answers:

1. where a page's CPU goes: milliseconds of CPU per request of each server process
   (travel, users, router) in every scenario, stacked, with requests/second beside;
2. how the router's home page scales: requests/second (bars) and p99 (line) at 1, 8,
   32 and 128 connections;
3. how long a payer waits: the live-status samples, sorted, with median and p99.

CPU per page is drawn first because on a shared machine it moves much less than rps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1500, 560
PANEL_TOP, PANEL_BOTTOM = 70, 500
COLORS = {"travel": (76, 114, 176), "users": (85, 168, 104), "router": (221, 132, 82)}
RED = (196, 78, 82)
GREY = (120, 120, 120)
BLACK = (30, 30, 30)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


def _router_cpu(key: str, cpu: dict[str, float]) -> float:
    from bench.run import ROUTER_OF

    return cpu.get(ROUTER_OF.get(key, "router-nocache"), 0.0)


def _cpu_panel(draw: ImageDraw.ImageDraw, report: dict[str, Any], x0: int, x1: int) -> None:
    small, label = _font(12), _font(13)
    draw.text((x0, PANEL_TOP - 30), "CPU ms per request, by process", font=_font(15), fill=BLACK)
    rows = [(k, r) for k, r in report["scenarios"].items() if r.get("cpu_ms_per_request")]
    stacks = []
    for key, result in rows:
        cpu = result["cpu_ms_per_request"]
        parts = [("travel", cpu.get("travel", 0.0)), ("users", cpu.get("users", 0.0)),
                 ("router", _router_cpu(key, cpu))]  # fmt: skip
        stacks.append((key, result, parts))
    biggest = max((sum(v for _, v in parts) for _, _, parts in stacks), default=1.0) or 1.0
    left, right = x0 + 40, x1 - 150
    row = (PANEL_BOTTOM - PANEL_TOP) // max(len(stacks), 1)
    for n, (key, result, parts) in enumerate(stacks):
        y = PANEL_TOP + n * row + 6
        draw.text((x0, y + 6), f"({key})", font=label, fill=BLACK)
        x = float(left)
        for process, value in parts:
            width = (right - left) * value / biggest
            if width >= 1:
                draw.rectangle((x, y, x + width, y + row - 16), fill=COLORS[process])
            x += width
        total = sum(v for _, v in parts)
        rps = f", {result['rps']:,.0f} rps" if "rps" in result else ""
        draw.text((x + 6, y + 6), f"{total:.1f} ms{rps}", font=small, fill=BLACK)
    legend_x = left
    for process, color in COLORS.items():
        draw.rectangle((legend_x, PANEL_BOTTOM + 12, legend_x + 12, PANEL_BOTTOM + 24), fill=color)
        draw.text((legend_x + 16, PANEL_BOTTOM + 10), process, font=small, fill=BLACK)
        legend_x += 80


def _scale_panel(draw: ImageDraw.ImageDraw, scale: list[dict[str, Any]], x0: int, x1: int) -> None:
    small = _font(12)
    draw.text((x0, PANEL_TOP - 30), "router home page (a) by connections", font=_font(15),
              fill=BLACK)  # fmt: skip
    if not scale:
        return
    top_rps = max(row["rps"] for row in scale) or 1.0
    top_p99 = max(row["p99_ms"] for row in scale) or 1.0
    slot = (x1 - x0 - 20) / len(scale)
    height = PANEL_BOTTOM - PANEL_TOP - 30
    points = []
    for n, row in enumerate(scale):
        x = x0 + 10 + n * slot
        bar = height * row["rps"] / top_rps
        draw.rectangle((x + slot * 0.2, PANEL_BOTTOM - bar, x + slot * 0.8, PANEL_BOTTOM),
                       fill=COLORS["travel"])  # fmt: skip
        draw.text((x + slot * 0.2, PANEL_BOTTOM - bar - 16), f"{row['rps']:,.0f} rps",
                  font=small, fill=BLACK)  # fmt: skip
        draw.text((x + slot * 0.35, PANEL_BOTTOM + 10), f"c={row['concurrency']}", font=small,
                  fill=BLACK)  # fmt: skip
        points.append((x + slot * 0.5, PANEL_BOTTOM - height * row["p99_ms"] / top_p99))
    draw.line(points, fill=RED, width=3)
    for (x, y), row in zip(points, scale, strict=True):
        draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=RED)
        text = f"p99 {row['p99_ms']:,.0f} ms"
        draw.rectangle(draw.textbbox((x + 6, y - 16), text, font=small), fill="white")
        draw.text((x + 6, y - 16), text, font=small, fill=RED)


def _live_panel(draw: ImageDraw.ImageDraw, live: dict[str, Any] | None, x0: int, x1: int) -> None:
    small = _font(12)
    draw.text((x0, PANEL_TOP - 30), "pay -> paymentStatus SUCCESS (live)", font=_font(15),
              fill=BLACK)  # fmt: skip
    if not live or not live.get("samples_ms"):
        draw.text((x0, PANEL_TOP + 20), "not measured in this run", font=small, fill=GREY)
        return
    samples = sorted(live["samples_ms"])
    top = max(samples[-1], 1.0)
    height = PANEL_BOTTOM - PANEL_TOP - 30
    width = (x1 - x0 - 20) / len(samples)
    for n, value in enumerate(samples):
        x = x0 + 10 + n * width
        draw.rectangle((x, PANEL_BOTTOM - height * value / top, x + max(width - 1, 1),
                        PANEL_BOTTOM), fill=COLORS["router"])  # fmt: skip
    for name, color in (("median_ms", BLACK), ("p99_ms", RED)):
        y = PANEL_BOTTOM - height * live[name] / top
        draw.line((x0 + 10, y, x1 - 10, y), fill=color, width=1)
        draw.text((x0 + 12, y - 15), f"{name.split('_')[0]} {live[name]:,.0f} ms", font=small,
                  fill=color)  # fmt: skip
    draw.text((x0 + 10, PANEL_BOTTOM + 10), f"{live['rounds']} payments, sorted", font=small,
              fill=BLACK)  # fmt: skip


def write(path: Path, report: dict[str, Any]) -> None:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    ratios = "   ".join(f"{name} = {value:.2f}" for name, value in report["ratios"].items())
    load = report.get("load_average")
    loaded = f"   load average {load[0]:.1f} at start, {load[1]:.1f} at end" if load else ""
    draw.text((20, 10), f"looklook bench: {ratios}{loaded}", font=_font(14), fill=BLACK)
    third = WIDTH // 3
    _cpu_panel(draw, report, 20, third - 10)
    _scale_panel(draw, report["scale"], third + 10, 2 * third - 10)
    _live_panel(draw, report.get("live"), 2 * third + 10, WIDTH - 20)
    image.save(path, optimize=True)
