"""SVG charts rendered on the server: no script, no style attribute (the CSP forbids inline
styles), presentation attributes only. Every chart sits beside a table with its data."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

INK, ACCENT, MUTED, GRID = "#1d1d1f", "#1f4e8c", "#4a4a55", "#d4d4cc"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _svg(chart_id: str, title: str, width: int, height: int, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        + "".join(body) + "</svg>"
    )


def _empty(chart_id: str, title: str, width: int) -> Markup:
    return _svg(chart_id, title, width, 40, [
        f'<text x="8" y="24" fill="{MUTED}" {FONT}>No data for this selection yet.</text>'])


def bar_chart(chart_id: str, title: str, items: Sequence[tuple[str, float | None]], *,
              maximum: float | None = None, fmt: Callable[[float], str] = str,
              width: int = 640) -> Markup:
    """Horizontal bars, one per (label, value); a value None is drawn as "no figure"."""
    if not items:
        return _empty(chart_id, title, width)
    label_w = min(320, max(60, 7 * max(len(label) for label, _ in items) + 12))
    row_h, value_w = 24, 70
    top = max([v for _, v in items if v is not None] + [0.0])
    scale_max = maximum if maximum is not None else (top or 1.0)
    bar_w = width - label_w - value_w
    body = []
    for index, (label, value) in enumerate(items):
        y = index * row_h
        body.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" fill="{INK}" '
                    f'{FONT}>{escape(label)}</text>')
        body.append(f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}" '
                    f'fill="none" stroke="{GRID}"/>')
        if value is None:
            shown = "—"
        else:
            length = 0.0 if scale_max <= 0 else max(0.0, min(1.0, value / scale_max)) * bar_w
            body.append(f'<rect x="{label_w}" y="{y + 4}" width="{length:.1f}" '
                        f'height="{row_h - 8}" fill="{ACCENT}"/>')
            shown = fmt(value)
        body.append(f'<text x="{label_w + bar_w + 6}" y="{y + 16}" fill="{INK}" {FONT}>'
                    f'{escape(shown)}</text>')
    return _svg(chart_id, title, width, row_h * len(items) + 4, body)


def line_chart(chart_id: str, title: str, points: Sequence[tuple[str, float | None]], *,
               maximum: float = 1.0, fmt: Callable[[float], str] = str,
               width: int = 640, height: int = 200) -> Markup:
    """A line over periods; a period without a figure breaks the line."""
    if not points:
        return _empty(chart_id, title, width)
    left, right, top, bottom = 48, 16, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(1, len(points) - 1)
    body = []
    for fraction in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - fraction)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    f'stroke="{GRID}"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}" '
                    f'{FONT}>{escape(fmt(maximum * fraction))}</text>')
    segments: list[list[tuple[float, float]]] = [[]]
    label_every = max(1, len(points) // 8)
    for index, (label, value) in enumerate(points):
        x = left + (step * index if len(points) > 1 else plot_w / 2)
        if index % label_every == 0 or index == len(points) - 1:
            body.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" '
                        f'fill="{MUTED}" {FONT}>{escape(label)}</text>')
        if value is None:
            segments.append([])
            continue
        y = top + plot_h * (1 - max(0.0, min(1.0, value / maximum if maximum else 0.0)))
        segments[-1].append((x, y))
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{ACCENT}">'
                    f'<title>{escape(label)}: {escape(fmt(value))}</title></circle>')
    for segment in segments:
        if len(segment) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
            body.append(f'<polyline points="{path}" fill="none" stroke="{ACCENT}" '
                        f'stroke-width="2"/>')
    return _svg(chart_id, title, width, height, body)
