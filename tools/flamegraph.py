#!/usr/bin/env python3
"""flamegraph.py - an SVG flame graph from `go tool pprof -traces` output.

    go tool pprof -traces -unit=B -sample_index=alloc_space PROGRAM PROFILE \
        | tools/flamegraph.py "title" > graph.svg

Each trace of the -traces listing is a value (bytes or a count) and a call
stack, innermost frame first.  The stacks are merged into a tree from the
outermost frame down; a frame is drawn as a box whose width is its share of
the total, with its callers below it and its callees above, as flame graphs
are drawn.  Colours are a hash of the function's name, so a function keeps
its colour from one graph to the next.
"""
import html
import re
import sys
import zlib

WIDTH, ROW, FONT = 1200, 18, 11


def parse(lines):
    """Yields (value, [outermost, ..., innermost]) for each trace."""
    value, stack = None, []
    for line in lines:
        if line.startswith("-----------+"):
            if value is not None and stack:
                yield value, list(reversed(stack))
            value, stack = None, []
            continue
        m = re.match(r"^\s*(-?[0-9.]+)([A-Za-z]*)\s{2,}(\S.*)$", line)
        if m and value is None and not line.strip().startswith("bytes:"):
            value, stack = float(m.group(1)), [m.group(3).strip()]
        elif value is not None and line.startswith(" " * 13) and line.strip():
            stack.append(line.strip())
    if value is not None and stack:
        yield value, list(reversed(stack))


def build(traces):
    root = {"name": "all", "value": 0.0, "kids": {}}
    for value, stack in traces:
        root["value"] += value
        node = root
        for fn in stack:
            node = node["kids"].setdefault(fn, {"name": fn, "value": 0.0, "kids": {}})
            node["value"] += value
    return root


def depth(node):
    return 1 + max((depth(k) for k in node["kids"].values()), default=0)


def colour(name):
    h = zlib.crc32(name.encode())
    return "rgb(%d,%d,%d)" % (205 + h % 50, 80 + (h >> 8) % 120, 40 + (h >> 16) % 40)


def human(v):
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(v) < 1024 or unit == "TB":
            return "%.1f %s" % (v, unit)
        v /= 1024


def draw(node, x, level, scale, height, out, total):
    w = node["value"] * scale
    if w < 0.5:
        return
    y = height - (level + 1) * ROW
    label = "%s (%s, %.1f%%)" % (node["name"], human(node["value"]), 100 * node["value"] / total)
    out.append('<g><title>%s</title><rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" '
               'stroke="white" stroke-width="0.5"/>' % (html.escape(label), x, y, w, ROW - 1, colour(node["name"])))
    chars = int(w / (FONT * 0.6))
    if chars >= 3:
        text = node["name"] if len(node["name"]) <= chars else node["name"][: chars - 2] + ".."
        out.append('<text x="%.1f" y="%d" font-size="%d" font-family="monospace">%s</text>'
                   % (x + 3, y + ROW - 5, FONT, html.escape(text)))
    out.append("</g>")
    for kid in sorted(node["kids"].values(), key=lambda k: k["name"]):
        draw(kid, x, level + 1, scale, height, out, total)
        x += kid["value"] * scale


def main():
    title = sys.argv[1] if len(sys.argv) > 1 else "flame graph"
    root = build(parse(sys.stdin))
    if root["value"] <= 0:
        sys.exit("flamegraph.py: no traces with values on standard input")
    height = (depth(root) + 2) * ROW
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">'
           % (WIDTH, height, WIDTH, height),
           '<rect width="100%" height="100%" fill="#fdfdf6"/>',
           '<text x="%d" y="%d" font-size="14" font-family="sans-serif" text-anchor="middle">%s</text>'
           % (WIDTH // 2, ROW, html.escape(title))]
    draw(root, 0.0, 0, WIDTH / root["value"], height, out, root["value"])
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
