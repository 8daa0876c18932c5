"""Names and numbers the generator, the harness and the renderer share (standard library only,
so the harness process stays small: see measure.py)."""

from __future__ import annotations

import argparse

GENERATOR = "assay-bench-drift/1"
ROW_GROUP_SIZE = 131_072


def parse_rows(text: str) -> int:
    """``10k`` → 10_000, ``1M`` → 1_000_000, ``2500`` → 2500."""
    t = text.strip().lower().replace("_", "")
    scale = 1
    if t.endswith("k"):
        scale, t = 1_000, t[:-1]
    elif t.endswith("m"):
        scale, t = 1_000_000, t[:-1]
    try:
        value = float(t) * scale
    except ValueError:
        value = 0.0
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(
            f"rows must be a positive whole number such as 10k, 1M or 2500. Got {text!r}."
        )
    return int(value)


def format_rows(n: int) -> str:
    """1_000_000 → ``1M``, 10_000 → ``10k``, 2500 → ``2500``."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    import platform
    from pathlib import Path

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
