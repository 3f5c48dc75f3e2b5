"""Pictures of the autograd graph: ``mt.viz.graph(loss, params=net.named_parameters())``.

The picture shows what ``backward`` will walk. Each box is one recorded op (one ``Node``): its name,
the shape of the tensor it produced, and the arrays it keeps for its backward (``saved``: the
memory a graph holds until ``backward`` frees it). Leaves are the tensors no op produced: a
parameter (green, labelled with its name when ``params`` is given), another tensor that requires a
gradient (green, unnamed), or an input that needs none (grey, dashed: no gradient flows there).
Arrows point the way data flows forward, from an op's inputs to the op; the loss sits at the bottom.

The numbers are backward's order. ``#k`` on an op: ``backward`` calls that op's backward k-th
(the order of :func:`minitorch_cnn.autograd.topological_order`). The small number on an arrow:
the order in which ``backward`` sends a gradient along it (op by op in that order, each op's inputs
left to right, as ``autograd.backward`` does); arrows without a number carry no gradient.

The layout is drawn with matplotlib alone (no system program needed): ops are stacked in rows
by their distance from the output, each leaf goes one row above the op that uses it, and a row is
filled left to right in the order the inputs are listed. ``Graph.to_dot()`` gives the same graph in
Graphviz's language, and ``save(path, engine="dot")`` draws it with Graphviz's ``dot`` program when
that is installed.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .autograd import topological_order
from .tensor import Tensor

__all__ = ["Graph", "GraphEdge", "GraphNode", "graph"]


@dataclass
class GraphNode:
    """One box: an op (``kind == "op"``) or a leaf tensor (``"param"``: needs a gradient; ``"input"``: none)."""

    kind: str
    name: str  # the op's name ("Conv2dFn"), a parameter's name ("0.weight"), or "tensor" / "input"
    shape: tuple
    step: int | None = None  # ops: backward calls this op's backward step-th (1 = the output's op)
    saved: list = field(default_factory=list)  # ops: (what, shape, bytes) of each array kept for backward
    rank: int = 0  # row: 0 = the output's op, growing towards the inputs
    x: float = 0.0  # centre, in inches, set by the layout

    @property
    def lines(self) -> list[str]:
        """The text of the box, one entry per line."""
        shape = _shape_text(self.shape)
        if self.kind == "op":
            return [f"#{self.step} {self.name} → {shape}"] + [
                f"saves {what}{_shape_text(s)} {_bytes_text(n)}" for what, s, n in self.saved]
        return [f"{self.name} {shape}"]


@dataclass
class GraphEdge:
    """An arrow from ``src`` (an input) to ``dst`` (the op using it); ``order``: backward's visit number or None."""

    src: int
    dst: int
    order: int | None
    slot: int  # which input of ``dst`` this is


def _shape_text(shape) -> str:
    return "(" + "×".join(str(n) for n in shape) + ")" if len(shape) else "scalar"


def _bytes_text(n: int) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("kB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _saved_arrays(node) -> list:
    """(what, shape, bytes) of every array an op keeps for its backward: ``save_for_backward``'s
    arrays (each array of a saved list too: conv2d's columns, chunk by chunk), then arrays it stored
    as attributes of its ``ctx`` (e.g. a mask)."""
    saved = [a for item in node.saved_tensors for a in (item if isinstance(item, (list, tuple)) else [item])]
    out = [("", tuple(a.shape), int(a.nbytes)) for a in saved if hasattr(a, "shape")]
    for key, value in vars(node).items():
        if key not in ("saved_tensors", "inputs", "needs_input_grad") and hasattr(value, "nbytes") \
                and hasattr(value, "shape"):
            out.append((f"{key} ", tuple(value.shape), int(value.nbytes)))
    return out


class Graph:
    """The autograd graph behind a tensor, as boxes and arrows; see the module doc for what is drawn.

    ``nodes``: the ops first (in backward's order), then the leaves; ``edges``: every arrow, those
    carrying a gradient in the order backward sends them. ``save(path)`` writes ``.svg`` or ``.png``;
    in Jupyter the object shows itself (``_repr_svg_`` / ``_repr_png_``).
    """

    def __init__(self, nodes: list[GraphNode], edges: list[GraphEdge], title: str = ""):
        self.nodes = nodes
        self.edges = edges
        self.title = title
        self._cache: dict = {}
        _layout(self)

    @property
    def ops(self) -> list[GraphNode]:
        return [n for n in self.nodes if n.kind == "op"]

    @property
    def leaves(self) -> list[GraphNode]:
        return [n for n in self.nodes if n.kind != "op"]

    def __repr__(self):
        return (f"<autograd graph: {len(self.ops)} ops, {len(self.leaves)} leaves, {len(self.edges)} edges; "
                ".save('graph.svg') or show it in Jupyter>")

    # ------------------------------------------------------------------ drawing
    def render(self, fmt: str = "png", dpi: int = 110, metadata: dict | None = None) -> bytes:
        """The picture as bytes (``fmt``: "png", "svg" or "pdf"), drawn with matplotlib.

        ``metadata``: passed to matplotlib's ``savefig``; for PNG each key becomes a text chunk of the
        file (``{"minitorch_cnn:ops": "..."}``), readable without drawing the picture again."""
        key = (fmt, dpi, tuple(sorted((metadata or {}).items())))
        if key not in self._cache:
            import matplotlib  # noqa: PLC0415 - slow import, only when drawing

            fig = _draw(self)
            buf = io.BytesIO()
            with matplotlib.rc_context({"svg.fonttype": "none"}):  # SVG text stays text: searchable, smaller
                fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
            self._cache[key] = buf.getvalue()
        return self._cache[key]

    def save(self, path, engine: str = "matplotlib", dpi: int = 110, metadata: dict | None = None) -> Path:
        """Write the picture to ``path``; its suffix (.svg, .png, .pdf) picks the format.

        ``engine="dot"`` lays it out with Graphviz's ``dot`` program instead (it must be installed).
        ``metadata`` (matplotlib engine only): see ``render``."""
        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in ("svg", "png", "pdf"):
            raise ValueError(f"viz.Graph.save: expected a file name ending in .svg, .png or .pdf, got {path.name!r}")
        if metadata is not None and engine != "matplotlib":
            raise ValueError("viz.Graph.save: metadata is written by the matplotlib engine only")
        if engine == "matplotlib":
            data = self.render(fmt, dpi, metadata)
        elif engine == "dot":
            dot = shutil.which("dot")
            if dot is None:
                raise RuntimeError("viz.Graph.save: engine='dot' needs Graphviz's dot program on the PATH, which "
                                   "was not found; leave engine='matplotlib' (the default)")
            data = subprocess.run([dot, f"-T{fmt}"], input=self.to_dot().encode(), capture_output=True,
                                  check=True).stdout
        else:
            raise ValueError(f"viz.Graph.save: engine must be 'matplotlib' or 'dot', got {engine!r}")
        path.write_bytes(data)
        return path

    def _repr_svg_(self):
        return self.render("svg").decode("utf-8")

    def _repr_png_(self):
        return self.render("png")

    def to_dot(self) -> str:
        """The graph in Graphviz's DOT language (forward arrows, backward's numbers as edge labels)."""
        lines = ["digraph autograd {", '  node [shape=box, style="rounded,filled", fontname="monospace", '
                 'fontsize=10];', "  rankdir=TB;"]
        fill = {"op": "#dbe9f6", "param": "#dff2dc", "input": "#eeeeee"}
        for i, n in enumerate(self.nodes):
            label = "\\n".join(s.replace('"', "'") for s in n.lines)
            extra = ', style="rounded,filled,dashed"' if n.kind == "input" else ""
            lines.append(f'  n{i} [label="{label}", fillcolor="{fill[n.kind]}"{extra}];')
        for e in self.edges:
            attrs = f'label="{e.order}"' if e.order is not None else 'style=dashed, color="#999999"'
            lines.append(f"  n{e.src} -> n{e.dst} [{attrs}];")
        lines.append("}")
        return "\n".join(lines) + "\n"


def graph(tensor: Tensor, params=None) -> Graph:
    """The autograd graph that ``tensor.backward()`` would walk, as a :class:`Graph` to save or show.

    ``params``: a module's ``named_parameters()`` (or a dict name -> tensor, or the module itself),
    so that parameter leaves are labelled with their names. Call it before ``backward``, which frees
    the graph (or pass ``retain_graph=True`` to ``backward``)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"viz.graph: expected a Tensor, got {type(tensor).__name__}")
    if tensor.grad_fn is None:
        raise ValueError("viz.graph: this tensor has no graph (it is a leaf, or was computed under no_grad or "
                         "from tensors that need no gradient)")
    if tensor.grad_fn.freed:
        raise ValueError("viz.graph: the graph of this tensor was freed by backward(); draw it before calling "
                         "backward, or call backward(retain_graph=True)")
    if params is not None and hasattr(params, "named_parameters"):
        params = params.named_parameters()
    names = {}
    for name, p in (params.items() if isinstance(params, dict) else (params or ())):
        names.setdefault(id(p), name)

    order = topological_order(tensor.grad_fn)
    index = {id(node): i for i, node in enumerate(order)}
    out_shape = {id(tensor.grad_fn): tensor.shape}
    for node in order:  # an op's output shape: read off the tensor its consumer received
        for t in node.inputs:
            if t is not None and t.grad_fn is not None:
                out_shape.setdefault(id(t.grad_fn), t.shape)
    nodes = [GraphNode("op", node.name, out_shape[id(node)], step=i + 1, saved=_saved_arrays(node))
             for i, node in enumerate(order)]
    edges, leaf_index, visits = [], {}, 0
    for node in order:
        for slot, (t, needed) in enumerate(zip(node.inputs, node.needs_input_grad)):
            if t is None:
                continue
            if t.grad_fn is not None:
                src = index[id(t.grad_fn)]
            else:
                if id(t) not in leaf_index:
                    kind = "param" if t.requires_grad else "input"
                    name = names.get(id(t), "tensor" if t.requires_grad else "input")
                    leaf_index[id(t)] = len(nodes)
                    nodes.append(GraphNode(kind, name, t.shape))
                src = leaf_index[id(t)]
            visits += needed
            edges.append(GraphEdge(src, index[id(node)], visits if needed else None, slot))
    title = (f"autograd graph: {len(order)} ops, {len(nodes) - len(order)} leaves\n"
             "#k: backward's k-th op → its output's shape; arrow numbers: the order gradients are sent")
    return Graph(nodes, edges, title)


# ---------------------------------------------------------------------- layout and drawing
_FONT = 8.0  # points
_CHAR_W = 0.6 * _FONT / 72  # inches per character of the monospace font
_LINE_H = 1.35 * _FONT / 72
_PAD = 0.08  # inches inside a box
_GAP_X = 0.25  # inches between boxes in a row
_GAP_Y = 0.3  # inches between rows


def _box_size(node: GraphNode) -> tuple[float, float]:
    lines = node.lines
    return (max(len(s) for s in lines) * _CHAR_W + 2 * _PAD, len(lines) * _LINE_H + 2 * _PAD)


def _layout(g: Graph) -> None:
    """Rows by longest distance from the output (each leaf one row above its highest user). An arrow
    spanning several rows gets a waypoint in each row it crosses, laid out like a thin box, so that
    it runs beside the boxes instead of through them. A row's boxes and waypoints go in input
    order, each as close as it can get to the mean x of what it feeds, pushed right so none overlap."""
    consumers = {i: [] for i in range(len(g.nodes))}
    for e in g.edges:
        consumers[e.src].append(e)
    for i, n in enumerate(g.nodes):  # ops in backward's order: every op after all of its users
        if n.kind == "op":
            n.rank = max((g.nodes[e.dst].rank + 1 for e in consumers[i]), default=0)
    for i, n in enumerate(g.nodes):
        if n.kind != "op":
            n.rank = max(g.nodes[e.dst].rank + 1 for e in consumers[i])
    # row -> items; an item is ("node", i) or ("way", edge index, rank); each item's targets: what it feeds
    rows: dict[int, list] = {}
    feeds: dict = {}
    for i, n in enumerate(g.nodes):
        rows.setdefault(n.rank, []).append(("node", i))
        feeds[("node", i)] = []
    for k, e in enumerate(g.edges):
        below = ("node", e.dst)
        for r in range(g.nodes[e.dst].rank + 1, g.nodes[e.src].rank):
            item = ("way", k, r)
            rows.setdefault(r, []).append(item)
            feeds[item] = [(below, e.slot)]
            below = item
        feeds[("node", e.src)].append((below, e.slot))
    x: dict = {}

    def width(item):
        return _box_size(g.nodes[item[1]])[0] if item[0] == "node" else 0.12

    for rank in sorted(rows):
        def wanted(item):
            targets = feeds[item]
            return sum(x[t] for t, _ in targets) / len(targets) if targets else 0.0

        def key(item):
            is_op = item[0] == "node" and g.nodes[item[1]].kind == "op"
            return (wanted(item), not is_op, min((slot for _, slot in feeds[item]), default=0))

        right = None
        for item in sorted(rows[rank], key=key):
            w = width(item)
            pos = wanted(item)
            if right is not None:
                pos = max(pos, right + _GAP_X + w / 2)
            x[item] = pos
            right = pos + w / 2
    for i, n in enumerate(g.nodes):
        n.x = x[("node", i)]
    g.rows = {r: [it[1] for it in items if it[0] == "node"] for r, items in rows.items()}
    g.waypoints = {k: [] for k in range(len(g.edges))}  # edge -> [(rank, x)], from the source's row down
    for item, pos in x.items():
        if item[0] == "way":
            g.waypoints[item[1]].append((item[2], pos))
    for pts in g.waypoints.values():
        pts.sort(reverse=True)


def _draw(g: Graph):
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - slow import, only when drawing
    from matplotlib.figure import Figure  # noqa: PLC0415
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: PLC0415
    from matplotlib.path import Path as MplPath  # noqa: PLC0415

    sizes = [_box_size(n) for n in g.nodes]
    n_rows = max(n.rank for n in g.nodes) + 1
    row_h = [max(sizes[i][1] for i in g.rows[r]) for r in range(n_rows)]
    # y of each row's centre, in inches from the bottom; row 0 (the output) at the bottom
    y_row, y = [], 0.3
    for r in range(n_rows):
        y_row.append(y + row_h[r] / 2)
        y += row_h[r] + _GAP_Y
    way_x = [wx for pts in g.waypoints.values() for _, wx in pts]
    left = min([n.x - s[0] / 2 for n, s in zip(g.nodes, sizes)] + way_x) - 0.2
    right = max([n.x + s[0] / 2 for n, s in zip(g.nodes, sizes)] + way_x) + 0.2
    title_lines = g.title.splitlines() or [""]
    title_h = (len(title_lines) + 0.6) * _LINE_H * 1.2
    width = max(right - left, max(len(s) for s in title_lines) * _CHAR_W * 1.15 + 0.4)
    height = y + title_h
    left -= (width - (right - left)) / 2  # the boxes centred under the title
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(left, left + width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.text(left + width / 2, height - title_h / 2, g.title, ha="center", va="center", fontsize=_FONT + 0.5,
            linespacing=1.4)

    style = {"op": ("#dbe9f6", "#3a6ea5", "-"), "param": ("#dff2dc", "#3c8a3a", "-"),
             "input": ("#f0f0f0", "#888888", "--")}
    boxes = {}
    for i, (n, (w, h)) in enumerate(zip(g.nodes, sizes)):
        cx, cy = n.x, y_row[n.rank]
        fill, edge, ls = style[n.kind]
        lw = 1.8 if n.kind == "op" and n.step == 1 else 0.9
        ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.05",
                                    facecolor=fill, edgecolor=edge, linestyle=ls, linewidth=lw))
        lines = n.lines
        top = cy + h / 2 - _PAD - _LINE_H / 2
        for k, text in enumerate(lines):
            ax.text(cx, top - k * _LINE_H, text, ha="center", va="center", family="monospace", fontsize=_FONT,
                    fontweight="bold" if k == 0 else "normal", color="#222222" if k == 0 else "#444444")
        boxes[i] = (cx, cy, w, h)
    for k, e in enumerate(g.edges):
        sx, sy, _, sh = boxes[e.src]
        dx, dy, _, dh = boxes[e.dst]
        points = [(sx, sy - sh / 2)]
        for r, wx in g.waypoints[k]:  # run beside the rows in between
            points += [(wx, y_row[r] + row_h[r] / 2), (wx, y_row[r] - row_h[r] / 2)]
        points.append((dx, dy + dh / 2))
        color = "#555555" if e.order is not None else "#aaaaaa"
        path = MplPath(points, [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1))
        ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=9, color=color, linewidth=0.9,
                                     linestyle="-" if e.order is not None else "--", shrinkA=0, shrinkB=1))
        if e.order is not None:
            (ax0, ay0), (ax1, ay1) = points[-2], points[-1]
            t = 0.45  # on the last segment, a little nearer the arrow's head
            ax.text(ax0 + t * (ax1 - ax0), ay0 + t * (ay1 - ay0), str(e.order),
                    ha="center", va="center", fontsize=_FONT - 1.5, color="#8a3b12",
                    bbox={"boxstyle": "circle,pad=0.15", "facecolor": "white", "edgecolor": "#d9a07a",
                          "linewidth": 0.6})
    return fig
