"""Chart of run.py's results: `python _chart.py results.json results.png`, run by the tools venv's
python (matplotlib lives there, not in the project)."""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = [("cold", "1. cold realize"), ("warm", "2. new env, known parts"), ("noop", "3. env exists"),
          ("first_import", "4. first import")]


def colour(name: str) -> str:
    return "#1f77b4" if name.startswith("envstore") else "#ff7f0e" if name.startswith("uv") else "#7f7f7f"


def main() -> None:
    results = json.load(open(sys.argv[1]))
    sets = results["sets"]
    fig, axes = plt.subplots(len(sets), len(PANELS) + 1, figsize=(26, 4.8 * len(sets)), squeeze=False)
    for row, (set_name, r) in zip(axes, sets.items()):
        for ax, (key, title) in zip(row, PANELS):
            names = list(r[key])
            meds = [r[key][n]["median"] for n in names]
            lo = [m - r[key][n]["min"] for n, m in zip(names, meds)]
            hi = [r[key][n]["max"] - m for n, m in zip(names, meds)]
            y = range(len(names))
            ax.barh(y, meds, xerr=[lo, hi], color=[colour(n) for n in names], capsize=3)
            ax.set_yticks(list(y), names, fontsize=8)
            ax.invert_yaxis()
            ax.set_xscale("log")
            ax.set_xlabel("seconds (median; whiskers: fastest-slowest round), log scale")
            ax.set_title(f"{set_name}: {title}")
            for yi, m in zip(y, meds):
                ax.text(m, yi, f" {m * 1000:.0f} ms" if m < 1 else f" {m:.2f} s", va="center", fontsize=8)
        ax = row[-1]
        counts = [d["envs"] for d in r["disk"]]
        for col in r["disk"][0]:
            if col != "envs":
                ax.plot(counts, [d[col] / 2**20 for d in r["disk"]], marker="o", label=col, color=colour(col),
                        linestyle="-" if "+" in col or col == "pip venvs" or "without" in col else ":")
        ax.set_xticks(counts)
        ax.set_xlabel("environments sharing the set")
        ax.set_ylabel("MiB on disk (each inode once)")
        ax.set_yscale("log")
        ax.set_title(f"{set_name}: 5. disk")
        ax.legend(fontsize=7)
    m = results["machine"]
    fig.suptitle(f"envstore vs uv vs pip: {m['date']}, {m['nproc']} CPUs, load {m['load_start'][0]:.2f} -> "
                 f"{m['load_end'][0]:.2f}; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=90)


if __name__ == "__main__":
    main()
