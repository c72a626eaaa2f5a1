"""Charts as inline SVG, drawn in Python: no library, nothing fetched, readable offline.

Every drawn data element carries class "mark", so a test (or a reader's devtools) can
count what a chart shows. Sizes in SVG user units; values in the caller's units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 560, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 62, 16, 28, 40
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4d7c0f", "#be185d")
TICKS = 5

Point = tuple[float, float]


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _ticks(low: float, high: float) -> list[float]:
    """About TICKS round numbers covering [low, high]."""
    if high <= low:
        high = low + 1
    step = 10 ** math.floor(math.log10((high - low) / TICKS))
    for factor in (1, 2, 5, 10):
        if (high - low) / (step * factor) <= TICKS:
            step *= factor
            break
    start = math.floor(low / step) * step
    ticks = [start]
    while ticks[-1] < high - step * 1e-9:  # the last tick covers the highest value
        ticks.append(start + len(ticks) * step)
    return ticks


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels for a run of ticks, with the fewest decimals that keep them distinct (182.2, 182.4: not 182, 182)."""
    for decimals in range(0, 7):
        labels = [f"{tick:,.{decimals}f}" if abs(tick) >= 1000 else f"{tick:.{decimals}f}" for tick in ticks]
        if len(set(labels)) == len(labels):
            return labels
    return [_label(tick) for tick in ticks]


def _label(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


class Frame:
    """Maps data coordinates to the plot area and draws axes, grid and labels."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x_ticks = _ticks(*x_range)
        self.y_ticks = _ticks(min(0.0, y_range[0]), y_range[1])
        self.x_low, self.x_high = self.x_ticks[0], self.x_ticks[-1]
        self.y_low, self.y_high = self.y_ticks[0], self.y_ticks[-1]

    def x(self, value: float) -> float:
        span = (self.x_high - self.x_low) or 1
        return MARGIN_LEFT + (value - self.x_low) / span * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT)

    def y(self, value: float) -> float:
        span = (self.y_high - self.y_low) or 1
        return HEIGHT - MARGIN_BOTTOM - (value - self.y_low) / span * (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM)

    def axes(self, title: str, x_label: str, y_label: str) -> list[str]:
        parts = [f'<text x="{WIDTH / 2}" y="16" class="title">{escape(title)}</text>']
        for tick, label in zip(self.y_ticks, tick_labels(self.y_ticks), strict=False):
            y = self.y(tick)
            parts.append(
                f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            )
            parts.append(f'<text x="{MARGIN_LEFT - 4}" y="{y + 4:.1f}" class="ytick">{label}</text>')
        for tick, label in zip(self.x_ticks, tick_labels(self.x_ticks), strict=False):
            x = self.x(tick)
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 14}" class="xtick">{label}</text>')
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" class="axis">{escape(x_label)}</text>')
        parts.append(
            f'<text x="12" y="{HEIGHT / 2}" class="axis" transform="rotate(-90 12 {HEIGHT / 2})">'
            f"{escape(y_label)}</text>"
        )
        return parts


def _svg(parts: list[str], legend: Sequence[str] = ()) -> str:
    items = "".join(
        f'<span class="key"><i style="background:{color(i)}"></i>{escape(name)}</span>' for i, name in enumerate(legend)
    )
    return (
        f'<figure class="chart"><svg viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(parts)
        + f"</svg>{f'<figcaption>{items}</figcaption>' if items else ''}</figure>"
    )


def empty_chart(title: str, why: str) -> str:
    return _svg(
        [
            f'<text x="{WIDTH / 2}" y="16" class="title">{escape(title)}</text>',
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" class="axis">{escape(why)}</text>',
        ]
    )


def line_chart(
    title: str,
    x_label: str,
    y_label: str,
    series: Sequence[tuple[str, Sequence[Point]]],
    highlight: Point | None = None,
    highlight_label: str = "",
    errors: Sequence[Sequence[tuple[float, float] | None]] | None = None,
    points_only: frozenset[str] = frozenset(),
) -> str:
    """Lines with a marker per point; `highlight` circles one point (a knee) with a label; `errors`: per series,
    per point, a (low, high) interval drawn as an error bar (None: none); `points_only`: series drawn as markers
    without a line (events, not a curve)."""
    points = [point for _, values in series for point in values]
    if not points:
        return empty_chart(title, "no data")
    tops = [high for bars in errors or () for bar in bars if bar is not None for high in bar[1:]]
    frame = Frame((min(x for x, _ in points), max(x for x, _ in points)), (0.0, max([y for _, y in points] + tops)))
    parts = frame.axes(title, x_label, y_label)
    for index, (name, values) in enumerate(series):
        for (x, _), bar in zip(values, (errors[index] if errors else ()), strict=False):
            if bar is not None:
                parts.append(
                    f'<line class="error-bar" x1="{frame.x(x):.1f}" x2="{frame.x(x):.1f}" y1="{frame.y(bar[0]):.1f}" '
                    f'y2="{frame.y(bar[1]):.1f}" stroke="{color(index)}" stroke-width="1.5"><title>{escape(name)} '
                    f"95 % interval: {_label(bar[0])} to {_label(bar[1])}</title></line>"
                )
        path = " ".join(f"{'M' if i == 0 else 'L'}{frame.x(x):.1f},{frame.y(y):.1f}" for i, (x, y) in enumerate(values))
        if name not in points_only:
            parts.append(f'<path d="{path}" fill="none" stroke="{color(index)}" stroke-width="2"/>')
        parts += [
            f'<circle class="mark" cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3.5" fill="{color(index)}">'
            f"<title>{escape(name)}: {_label(x)}, {_label(y)}</title></circle>"
            for x, y in values
        ]
    if highlight is not None:
        x, y = frame.x(highlight[0]), frame.y(highlight[1])
        parts.append(
            f'<circle class="knee" cx="{x:.1f}" cy="{y:.1f}" r="9" fill="none" stroke="#111" stroke-width="2"/>'
        )
        # right of the point in the plot's left half, left of it in the right half: never cut off at the edge
        right_half = x > (MARGIN_LEFT + WIDTH - MARGIN_RIGHT) / 2
        anchor = f'x="{x - 12:.1f}" text-anchor="end"' if right_half else f'x="{x + 12:.1f}"'
        parts.append(f'<text {anchor} y="{y - 10:.1f}" class="note">{escape(highlight_label)}</text>')
    return _svg(parts, [name for name, _ in series])


def scatter_chart(title: str, x_label: str, y_label: str, series: Sequence[tuple[str, Sequence[Point]]]) -> str:
    """One dot per point, a colour per series (no lines: the points are requests, not a curve)."""
    points = [point for _, values in series for point in values]
    if not points:
        return empty_chart(title, "no data")
    frame = Frame((min(x for x, _ in points), max(x for x, _ in points)), (0.0, max(y for _, y in points)))
    parts = frame.axes(title, x_label, y_label)
    for index, (name, values) in enumerate(series):
        parts += [
            f'<circle class="mark" cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="2.5" fill="{color(index)}" '
            f'fill-opacity="0.6"><title>{escape(name)}: {_label(x)}, {_label(y)}</title></circle>'
            for x, y in values
        ]
    return _svg(parts, [name for name, _ in series])


def histogram(title: str, x_label: str, values: Sequence[float], bins: int = 30) -> str:
    """Counts of `values` in equal-width bins."""
    if not values:
        return empty_chart(title, "no data")
    low, high = min(values), max(values)
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, int((value - low) / width))] += 1
    frame = Frame((low, low + width * bins), (0.0, float(max(counts))))
    parts = frame.axes(title, x_label, "requests")
    for index, count in enumerate(counts):
        if count:
            x0, x1 = frame.x(low + index * width), frame.x(low + (index + 1) * width)
            parts.append(
                f'<rect class="mark" x="{x0:.1f}" y="{frame.y(count):.1f}" width="{max(1.0, x1 - x0 - 1):.1f}" '
                f'height="{frame.y(0) - frame.y(count):.1f}" fill="{color(0)}"><title>{count} in '
                f"[{_label(low + index * width)}, {_label(low + (index + 1) * width)})</title></rect>"
            )
    return _svg(parts)


def bar_chart(title: str, x_label: str, y_label: str, bars: Sequence[tuple[str, float]]) -> str:
    """One bar per label (e.g. server-side histogram buckets); both axes named with their units."""
    if not bars:
        return empty_chart(title, "no data")
    frame = Frame((0.0, float(len(bars))), (0.0, max(value for _, value in bars) or 1.0))
    parts = [f'<text x="{WIDTH / 2}" y="16" class="title">{escape(title)}</text>']
    slot = (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / len(bars)
    for index, (label, value) in enumerate(bars):
        x = MARGIN_LEFT + index * slot
        parts.append(
            f'<rect class="mark" x="{x + 1:.1f}" y="{frame.y(value):.1f}" width="{max(1.0, slot - 2):.1f}" '
            f'height="{frame.y(0) - frame.y(value):.1f}" fill="{color(1)}"><title>{escape(label)}: '
            f"{_label(value)}</title></rect>"
        )
        if len(bars) <= 16:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 14}" class="xtick">{escape(label)}</text>'
            )
    for tick, label in zip(frame.y_ticks, tick_labels(frame.y_ticks), strict=False):
        parts.append(f'<text x="{MARGIN_LEFT - 4}" y="{frame.y(tick) + 4:.1f}" class="ytick">{label}</text>')
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" class="axis">{escape(x_label)}</text>')
    parts.append(
        f'<text x="12" y="{HEIGHT / 2}" class="axis" transform="rotate(-90 12 {HEIGHT / 2})">{escape(y_label)}</text>'
    )
    return _svg(parts)


def timeline(
    title: str,
    bars: Sequence[tuple[float, float | None, float, int, bool]],
    in_flight: Sequence[Point],
    boundaries: Sequence[float],
) -> str:
    """Each request as a bar from send to end (s from the run's start), its first token
    marked, colour per worker (failures grey); the in-flight count as a line (on the
    same axis: n requests in flight at row n); stage
    boundaries as dashed rules. bars: (send_s, first_token_s or None, end_s, worker, ok)."""
    if not bars:
        return empty_chart(title, "no requests")
    rows = len(bars)
    frame = Frame((0.0, max(end for _, _, end, _, _ in bars)), (0.0, float(rows)))
    parts = frame.axes(title, "seconds", "request (in send order)")
    row_height = max(0.5, (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM) / rows)
    for row, (send_s, first_s, end_s, worker, ok) in enumerate(bars):
        y = frame.y(row + 1)
        fill = color(worker) if ok else "#9ca3af"
        parts.append(
            f'<rect class="mark" x="{frame.x(send_s):.1f}" y="{y:.2f}" '
            f'width="{max(0.5, frame.x(end_s) - frame.x(send_s)):.1f}" '
            f'height="{row_height:.2f}" fill="{fill}" opacity="0.55"/>'
        )
        if first_s is not None:
            parts.append(
                f'<rect x="{frame.x(first_s):.1f}" y="{y:.2f}" width="1.2" height="{row_height:.2f}" fill="#111"/>'
            )
    if in_flight:
        top = max(count for _, count in in_flight)  # on the same axis: n in flight is at row n
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{frame.x(t):.1f},{frame.y(min(count, rows)):.1f}"
            for i, (t, count) in enumerate(in_flight)
        )
        parts.append(
            f'<path class="mark" d="{path}" fill="none" stroke="#111" stroke-width="1.5"><title>requests '
            f"in flight (peak {top:.0f})</title></path>"
        )
    for boundary in boundaries:
        x = frame.x(boundary)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{HEIGHT - MARGIN_BOTTOM}" class="boundary"/>'
        )
    return _svg(parts)
