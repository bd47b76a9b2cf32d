"""The README's plot: echo round trips/s and p99 latency against connections, per server."""
from pathlib import Path

STYLE = {"mockd": ("tab:red", "o"), "mockd-nojournal": ("tab:orange", "s"), "gevent-bare": ("tab:blue", "^"),
         "websockets": ("tab:green", "v"), "node-ws": ("tab:gray", "D")}


def plot_throughput(document, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {}
    for case_id, result in document["round_trips"].items():
        kind, conns, server = case_id.split("/")
        if kind == "echo":
            series.setdefault(server, []).append((int(conns), result["msgs_per_s"], result["p99_ms"]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for server, points in sorted(series.items()):
        points.sort()
        color, marker = STYLE.get(server, (None, "o"))
        conns, throughputs, p99s = zip(*points)
        left.plot(conns, throughputs, marker=marker, color=color, label=server)
        right.plot(conns, p99s, marker=marker, color=color, label=server)
    for axes in (left, right):
        axes.set_xscale("log")
        axes.set_xlabel("connections (one message in flight each)")
        axes.grid(True, which="both", alpha=0.3)
    left.set_ylabel("round trips / s (32-byte echo)")
    left.set_ylim(bottom=0)
    right.set_ylabel("p99 round trip, ms")
    right.set_yscale("log")
    left.legend(fontsize=8)
    when = document.get("when", "")
    fig.suptitle(f"echo throughput and p99 vs connections ({document.get('cpus')} cpus, "
                 f"load {document.get('load_before')}, {when})", fontsize=9)
    fig.tight_layout()
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png
