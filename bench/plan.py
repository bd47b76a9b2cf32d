"""What a run of ``python -m bench`` does: its options, and the durations and sizes they give."""
import argparse
import importlib.util

from . import cases
from .servers import node_installed

DESCRIPTION = """Every case against every server, one table of ratios (see bench/README.rst).

Servers run as subprocesses on free 127.0.0.1 ports, started one after another: bare
gevent-websocket (the floor), ``websockets``, Node ``ws`` (when ``bench/node`` has it
installed) and mockd itself through ``mockd serve`` (twice: journal on, and
``--journal-size 0``; its ``/proxy`` relays to the bare server) and, with ``redis-server``
installed, as a node of a cluster, with ``--workers 2``, and as the two nodes of the broadcast
case (issue 16). Throughput cases run in interleaved rounds (every case once per round) so
that a burst of load from something else on the machine hits every server alike; the figure of
a case is its median round. Memory cases (16 MiB echo, idle connections) get fresh server
processes, so that what earlier cases left in the heap does not blur them.

Every ratio is against the bare gevent-websocket figure of the same run: absolute numbers on a
shared two-core box move by 20-30% between runs, ratios much less.
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds (tiny loads)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds of the round-trip cases (default 5)")
    parser.add_argument("--duration", type=float, help="measured seconds per round-trip run (default 0.8)")
    parser.add_argument("--conns", help="connection counts of the echo cases (default 1,50,500)")
    parser.add_argument("--idle", type=int, help="idle connections (default 10000)")
    parser.add_argument("--no-node", action="store_true", help="leave out the Node ws reference")
    parser.add_argument("--no-aging", action="store_true",
                        help="leave out churn after 100,000 handshakes (about 40-60 s of the run)")
    parser.add_argument("--no-websockets", action="store_true", help="leave out the websockets reference")
    parser.add_argument("--cluster-only", action="store_true",
                        help="only the cluster cases (issue 16): the echo at the middle count of mockd, mockd-cluster "
                             "and mockd-workers2 in interleaved rounds, and the broadcast to two nodes")
    parser.add_argument("--broadcasts", type=int, help="broadcasts to each side of the broadcast case (default 50)")
    parser.add_argument("--json", metavar="FILE", help="write every result here (default bench/results/latest.json)")
    parser.add_argument("--plot", metavar="PNG", help="throughput plot (default bench/results/throughput.png)")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and the load generator to CPUs")
    return parser.parse_args(argv)


class Plan:
    """Durations and sizes: the full run, or ``--quick`` (a smoke run of a few seconds)."""

    def __init__(self, args):
        quick = self.quick = args.quick
        self.rounds = args.rounds or (1 if quick else 5)
        self.duration = args.duration or (0.2 if quick else 0.8)
        self.warmup = 0.05 if quick else 0.3
        self.conns = [int(count) for count in (args.conns or ("1,4" if quick else "1,50,500")).split(",")]
        self.top = max(self.conns)          # the "500 connections" of the targets
        self.mid = 50 if 50 in self.conns else sorted(self.conns)[len(self.conns) // 2]  # "50 connections"
        self.feed_conns = 10 if quick else 500
        self.feed_duration = 0.3 if quick else 3.0
        self.feed_warmup = 0.1 if quick else 0.6
        self.feed_period = cases.FEED_PERIOD
        self.big_mib = 1.0 if quick else 16.0
        self.big_repeat = 1 if quick else 3
        self.big_repeat_bare = 1            # bare gevent-websocket takes over a second per 16 MiB echo
        self.idle = args.idle if args.idle is not None else (50 if quick else 10000)
        self.idle_settle = 1.1 if quick else 2.5   # longer than the 1 s heartbeat interval
        self.churn_rate = 100.0 if quick else 1000.0
        self.churn_duration = 0.3 if quick else 3.0
        self.aging = not args.no_aging
        self.age = 300 if quick else 100_000   # handshakes between the fresh and the aged churn
        self.fresh_memory_servers = not quick
        self.cluster_only = args.cluster_only
        self.broadcast_clients = 20 if quick else 1000   # spread over the cluster's two nodes
        self.broadcasts = args.broadcasts or (3 if quick else 50)
        self.broadcast_warmup = 1 if quick else 2       # broadcasts to each side before those counted
        self.node = not args.no_node and node_installed()
        self.websockets = not args.no_websockets and importlib.util.find_spec("websockets") is not None
