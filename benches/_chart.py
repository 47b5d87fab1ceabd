"""Chart of run.py's results: `python _chart.py results.json results.png`, run by the tools venv's
python (matplotlib lives there, not in the project)."""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

PANELS = [("cold", "1. cold realize"), ("warm", "2. new env, known parts"), ("noop", "3. env exists"),
          ("first_import", "4a. first import in a new env"), ("repeat_import", "4b. repeat import")]
DISK_COLOURS = ["#1f77b4", "#6baed6", "#ff7f0e", "#fdae6b", "#525252", "#969696"]


def colour(name: str) -> str:
    return "#1f77b4" if name.startswith("envstore") else "#ff7f0e" if name.startswith("uv") else "#7f7f7f"


def bars(ax, data: dict, title: str) -> None:
    names = list(data)
    meds = [data[n]["median"] for n in names]
    lo = [m - data[n]["min"] for n, m in zip(names, meds)]
    hi = [data[n]["max"] - m for n, m in zip(names, meds)]
    y = list(range(len(names)))
    ax.barh(y, meds, xerr=[lo, hi], color=[colour(n) for n in names], capsize=3, ecolor="#333333")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlim(min(data[n]["min"] for n in names) / 2, max(data[n]["max"] for n in names) * 4)
    ax.set_xlabel("seconds, log scale (bar: median; whiskers: fastest and slowest round)", fontsize=8)
    ax.set_title(title)
    for yi, n, m in zip(y, names, meds):
        ax.text(data[n]["max"] * 1.1, yi, f"{m * 1000:.0f} ms" if m < 1 else f"{m:.2f} s", va="center", fontsize=8)


def disk(ax, rows: list[dict], title: str) -> None:
    counts = [d["envs"] for d in rows]
    for col, c in zip([k for k in rows[0] if k != "envs"], DISK_COLOURS):
        ax.plot(counts, [d[col] / 2**20 for d in rows], marker="o", label=col, color=c)
    ax.set_xticks(counts)
    ax.set_xlabel("environments of the set", fontsize=8)
    ax.set_ylabel("MiB on disk (each inode once), log scale", fontsize=8)
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=7)


def main() -> None:
    results = json.load(open(sys.argv[1]))
    sets = results["sets"]
    fig, axes = plt.subplots(2 * len(sets), 3, figsize=(21, 8.5 * len(sets)), squeeze=False)
    for i, (set_name, r) in enumerate(sets.items()):
        cells = [ax for row in axes[2 * i:2 * i + 2] for ax in row]
        for ax, (key, title) in zip(cells, PANELS):
            bars(ax, r[key], f"{set_name}: {title}")
        disk(cells[-1], r["disk"], f"{set_name}: 5. disk")
    m = results["machine"]
    fig.suptitle(f"envstore vs uv vs pip: {m['date']}, {m['nproc']} CPUs, load {m['load_start'][0]:.2f} -> "
                 f"{m['load_end'][0]:.2f}; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(sys.argv[2], dpi=90)


if __name__ == "__main__":
    main()
