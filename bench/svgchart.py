"""svgchart.py - the benchmark report's charts, written as SVG text by hand.

Three kinds, each a function returning one complete SVG document (a str):

  bars(title, unit, groups, series_names)
                                   horizontal bars, one group per label, one
                                   bar per series, with a min-max whisker
  lines(title, xlabel, ylabel, series, log_x=False)
                                   line chart of (x, y) points per series;
                                   a series may be drawn dashed or as dots
  (a histogram is a lines() chart of bin counts over a log x axis)

Mechanism: every chart is a fixed-size canvas (WIDTH x HEIGHT) with a plot
area inset by margins; data coordinates map linearly (or by log10) onto the
plot area; axes get about five "nice" ticks (1, 2 or 5 times a power of
ten).  Colours come from one fixed palette in series order, so a peer keeps
its colour within a chart.  Text is XML-escaped; nothing else is needed to
view the files (no scripts, no external fonts or styles).

Invariant: the functions never fail on empty or degenerate data: an empty
series list or an all-zero range still gives a valid (mostly blank) chart.
"""

import math
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 760, 380
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#17becf", "#bcbd22"]


def _nice_ticks(lo, hi, count=5):
    """About count round tick values covering [lo, hi]."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    # from the last multiple of step at or below lo to the first at or above hi
    k = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(i * step, 12) for i in range(k, last + 1)]


def _fmt(v):
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6 or a < 1e-3:
        return "%.0e" % v
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return ("%.3f" % v).rstrip("0").rstrip(".")


def _doc(title, body):
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">\n'
            '<rect width="100%%" height="100%%" fill="white"/>\n'
            '<text x="%d" y="17" text-anchor="middle" font-size="15">%s</text>\n%s</svg>\n'
            % (WIDTH, HEIGHT, WIDTH, HEIGHT, WIDTH // 2, escape(title), body))


def _legend(names, x0, y0, step_per_char=7):
    """Colour keys in rows that wrap at the canvas width; returns (svg, rows)."""
    out, x, y = [], x0, y0
    for i, name in enumerate(names):
        w = 14 + step_per_char * len(name) + 14
        if x + w > WIDTH - 10 and x > x0:
            x, y = x0, y + 15
        out.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>' % (x, y, PALETTE[i % len(PALETTE)]))
        out.append('<text x="%d" y="%d">%s</text>' % (x + 14, y + 9, escape(name)))
        x += w
    return out, (y - y0) // 15 + 1


def bars(title, unit, groups, series_names):
    """groups: [(label, {series: (value, lo, hi)})]; bars per series, in
    series_names order; lo/hi draw a whisker (None: none)."""
    legend, rows = _legend(series_names, 150, 26, 8)
    left, right, top, bottom = 150, 30, 30 + 15 * rows, 50
    pw, ph = WIDTH - left - right, HEIGHT - top - bottom
    vmax = 0.0
    for _, vals in groups:
        for v in vals.values():
            vmax = max(vmax, v[0] or 0, v[2] or 0)
    ticks = _nice_ticks(0, vmax or 1)
    xmax = ticks[-1] if ticks[-1] > 0 else 1

    def x(v):
        return left + pw * (v / xmax)
    out = []
    for t in ticks:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x(t), top, x(t), top + ph))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x(t), top + ph + 15, _fmt(t)))
    out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>' % (left + pw // 2, HEIGHT - 12, escape(unit)))
    ng = max(len(groups), 1)
    gh = ph / ng
    ns = max(len(series_names), 1)
    bh = gh * 0.8 / ns
    for gi, (label, vals) in enumerate(groups):
        gy = top + gi * gh
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 6, gy + gh / 2 + 4, escape(label)))
        for si, name in enumerate(series_names):
            if name not in vals or vals[name][0] is None:
                continue
            v, lo, hi = vals[name]
            y = gy + gh * 0.1 + si * bh
            colour = PALETTE[si % len(PALETTE)]
            out.append('<rect x="%d" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>'
                       % (left, y, max(x(v) - left, 0.5), bh * 0.9, colour, escape(label), escape(name), _fmt(v)))
            if lo is not None and hi is not None:
                yc = y + bh * 0.45
                out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>' % (x(lo), yc, x(hi), yc))
    out += legend
    return _doc(title, "\n".join(out) + "\n")


def lines(title, xlabel, ylabel, series, log_x=False):
    """series: [(name, [(x, y), ...], style)] with style "solid", "dashed"
    or "dots"; log_x puts x on a log10 axis (x <= 0 points are dropped)."""
    legend, rows = _legend([name for name, _, _ in series], 70, 26)
    left, right, top, bottom = 70, 20, 32 + 15 * rows, 45
    pw, ph = WIDTH - left - right, HEIGHT - top - bottom
    pts = [(px, py) for _, ps, _ in series for px, py in ps if not log_x or px > 0]
    if log_x:
        xs = [math.log10(px) for px, _ in pts] or [0, 1]
        xlo, xhi = math.floor(min(xs)), math.ceil(max(xs))
        if xhi <= xlo:
            xhi = xlo + 1
        xticks = list(range(int(xlo), int(xhi) + 1))
    else:
        xs = [px for px, _ in pts] or [0, 1]
        xticks = _nice_ticks(min(min(xs), 0), max(xs))
        xlo, xhi = xticks[0], xticks[-1]
    ys = [py for _, py in pts] or [0, 1]
    yticks = _nice_ticks(0, max(ys) or 1)
    ylo, yhi = yticks[0], yticks[-1]

    def X(v):
        if log_x:
            v = math.log10(v)
        return left + pw * (v - xlo) / ((xhi - xlo) or 1)

    def Y(v):
        return top + ph - ph * (v - ylo) / ((yhi - ylo) or 1)
    out = []
    for t in yticks:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left, Y(t), left + pw, Y(t)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 5, Y(t) + 4, _fmt(t)))
    for t in xticks:
        xv = 10 ** t if log_x else t
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>' % (X(xv), top, X(xv), top + ph))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (X(xv), top + ph + 15, _fmt(xv)))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (left, top, pw, ph))
    out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>' % (left + pw // 2, HEIGHT - 8, escape(xlabel)))
    out.append('<text x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>'
               % (top + ph // 2, top + ph // 2, escape(ylabel)))
    for si, (name, ps, style) in enumerate(series):
        colour = PALETTE[si % len(PALETTE)]
        ps = [(px, py) for px, py in ps if not log_x or px > 0]
        if style == "dots":
            for px, py in ps:
                out.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>' % (X(px), Y(py), colour))
        elif ps:
            dash = ' stroke-dasharray="5,3"' if style == "dashed" else ""
            path = " ".join("%.1f,%.1f" % (X(px), Y(py)) for px, py in ps)
            out.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"%s/>' % (path, colour, dash))
    out += legend
    return _doc(title, "\n".join(out) + "\n")
