"""The report's PNG: shmkit and its peer side by side, one panel per unit.

Times (ns) and entry rates span several orders of magnitude, so their axes
are logarithmic; bandwidths (GB/s, next to memcpy) are linear, where a few
percent are visible. Each pair of bars is labelled with the ratio of the
table (how many times faster shmkit is).
"""

from __future__ import annotations

from pathlib import Path

from compare_common import Row, format_ratio, format_value, machine_line

PANELS = [
    ("ns", "time per operation (ns, log scale; less is better)", True),
    ("GB/s", "bandwidth (GB/s; more is better)", False),
    ("entries/s", "entries per second (log scale; more is better)", True),
]
SHMKIT_COLOUR, PEER_COLOUR = "#1f77b4", "#ff7f0e"


def plot(rows: list[Row], machine: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    panels = [(title, log, [r for r in rows if r.unit == unit and (r.shmkit or r.peer_value)])
              for unit, title, log in PANELS]
    panels = [p for p in panels if p[2]]
    if not panels:
        raise ValueError("no figures to plot")
    heights = [len(p[2]) + 1.5 for p in panels]
    figure, axes = plt.subplots(len(panels), 1, figsize=(10, 0.34 * sum(heights) + 1.2),
                                gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, log, panel_rows) in zip(axes[:, 0], panels):
        _panel(ax, title, log, panel_rows)
    # Above the first panel, right of its title: never over a bar or a label.
    axes[0, 0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False)
    figure.suptitle("shmkit next to its peers, same machine, same run; each label: how many times faster shmkit "
                    "is, then (shmkit figure / peer figure)\n" + _wrap(machine_line(machine), 120), fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _panel(ax, title: str, log: bool, rows: list[Row]) -> None:
    positions = range(len(rows))
    height = 0.4
    shmkit = [r.shmkit or 0 for r in rows]
    peer = [r.peer_value or 0 for r in rows]
    ax.barh([y - height / 2 for y in positions], shmkit, height, color=SHMKIT_COLOUR, label="shmkit")
    ax.barh([y + height / 2 for y in positions], peer, height, color=PEER_COLOUR, label="peer")
    ax.set_yticks(list(positions))
    ax.set_yticklabels([f"{r.section}: {r.operation}\nvs {r.peer}" for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(axis="x", labelsize=7)
    if log:
        ax.set_xscale("log")
    top = max(max(shmkit), max(peer))
    ax.set_xlim(right=top * (8 if log else 1.35))
    for y, r in zip(positions, rows):
        text = format_ratio(r.ratio) if r.ratio is not None else "not measured"
        ax.annotate(f"{text}  ({format_value(r.shmkit, r.unit)} / {format_value(r.peer_value, r.unit)})",
                    (max(r.shmkit or 0, r.peer_value or 0) or top, y), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=7)
    ax.grid(axis="x", which="major", alpha=0.3)


def _wrap(text: str, width: int) -> str:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])
