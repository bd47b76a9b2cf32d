"""``python -m bench`` (or ``bench/run``): start the servers, run every case, print the report
and write every result (see ``python -m bench --help`` and bench/README.rst)."""
import datetime
import functools
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from . import cases, loadgen, procstat
from .broadcast import run_broadcast
from .plan import Plan, parse_args
from .report import build_report, render_table, render_targets
from .servers import (Pinning, RedisProcess, gevent_server, mockd_server, node_server, upstream_server,
                      websockets_server, workers_server)
from .suite import (CLUSTER_SERVERS, log, round_trip_jobs, run_aged_churn, run_churn, run_feed, run_memory,
                    run_pack_feeds, run_round_trips)

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None):
    args = parse_args(argv)
    plan = Plan(args)
    procstat.raise_nofile()  # inherited by every server started below
    pinning = None if args.no_pin else Pinning.pin_this_process()
    started, load_before = time.monotonic(), procstat.loadavg()
    log(f"bench: {os.cpu_count()} cpus, load {load_before}, loop {loadgen.event_loop_name()}, "
        f"python {platform.python_version()}" + (" (quick)" if plan.quick else "")
        + (f", servers pinned to cpu {pinning.server_cpu}, load generator to cpu {pinning.client_cpu}"
           if pinning else ""))
    with tempfile.TemporaryDirectory(prefix="mockd-bench-") as tmp:
        # Written by start_servers, once the bare server (the proxy's upstream) has its port.
        config = os.path.join(tmp, "bench-mocks.json")
        results = run_all(plan, config, pinning)
    rows, verdicts = build_report(plan, results)
    document = {"when": datetime.datetime.now().isoformat(timespec="seconds"),
                "elapsed_s": time.monotonic() - started, "load_before": load_before, "load_after": procstat.loadavg(),
                "cpus": os.cpu_count(), "loop": loadgen.event_loop_name(), "pinned": pinning is not None,
                "quick": plan.quick, "rounds": plan.rounds, "duration": plan.duration, "conns": plan.conns,
                "rows": rows, "targets": verdicts, **results}
    print_report(document, pinning)
    write_results(args, document)
    return 0


def run_all(plan, config, pinning):
    """Start every server, run every case; the servers are stopped whatever happens."""
    servers, helpers = {}, []  # helpers: what the servers need (the cluster's Redis), stopped last
    try:
        start_servers(plan, config, pinning, servers, helpers)
        return run_cases(plan, config, pinning, servers, helpers[0].url if helpers else None)
    finally:
        for server in [*servers.values(), *helpers]:
            server.stop()


def start_servers(plan, config, pinning, servers, helpers):
    """Start the servers one after another into ``servers`` (name: Server), so that the caller
    stops those that started when a later one fails; write mockd's ``config`` once the bare
    server that is the upstream of its ``/proxy`` has told its port (``--cluster-only``: mockd
    alone and its cluster cases, no ``/proxy``)."""
    upstream = None
    if not plan.cluster_only:
        servers["gevent-bare"] = gevent_server(plan.feed_period, pinning).start()
        upstream = servers["gevent-upstream"] = upstream_server(plan.feed_period, pinning).start()
    cases.write_mockd_config(config, plan.feed_period, upstream=upstream and upstream.url(cases.UPSTREAM_PATH))
    for wanted, make in ((plan.websockets, websockets_server), (plan.node, node_server)):
        if wanted and not plan.cluster_only:  # references only: a run goes on without them
            try:
                server = make(pinning).start()
                servers[server.name] = server
            except RuntimeError as exc:
                log(f"skipped: {exc}")
    servers["mockd"] = mockd_server(config, pinning).start()
    if not plan.cluster_only:
        servers["mockd-nojournal"] = mockd_server(config, pinning, journal_size=0, name="mockd-nojournal").start()
    try:  # the same mockd as a node of a cluster, and with --workers (issue 16): against the single process
        redis = RedisProcess(pinning)
    except RuntimeError as exc:
        log(f"skipped: {exc}")
    else:
        helpers.append(redis)
        servers["mockd-cluster"] = mockd_server(config, pinning, name="mockd-cluster",
                                                extra=("--cluster", redis.url)).start()
        workers = workers_server(config, pinning)
        servers[workers.name] = workers.start()
    log("servers: " + ", ".join(f"{server.name}:{server.port}" for server in servers.values()))


def run_cases(plan, config, pinning, servers, redis_url):
    """The raw results, under the keys :func:`bench.report.build_report` reads."""
    make_mockd = functools.partial(mockd_server, config, pinning)
    results = {"round_trips": run_round_trips(plan, round_trip_jobs(plan, servers))}
    for name in CLUSTER_SERVERS:  # needed by the round trips only; the broadcast's nodes join the same Redis
        if name in servers:
            servers[name].stop()
    results["broadcast"] = run_broadcast(plan, make_mockd, redis_url, log) if redis_url else None
    if plan.cluster_only:
        return results
    bare, mockd = servers["gevent-bare"], servers["mockd"]
    results.update({"feed": run_feed(plan, (bare, mockd)), "pack_feeds": run_pack_feeds(plan, mockd),
                    "churn": run_churn(plan, (bare, mockd))})
    results["aged_churn"] = run_aged_churn(plan, make_mockd) if plan.aging else None
    make_bare = functools.partial(gevent_server, plan.feed_period, pinning)
    results["memory"] = {"gevent-bare": run_memory(plan, make_bare, bare, "/", "/"),
                         "mockd": run_memory(plan, make_mockd, mockd, "/big", "/idle")}
    return results


def print_report(document, pinning):
    print(render_table(document["rows"]))
    print()
    print("targets (ratios within this run; a throughput ratio is the median of its per-round ratios):")
    print(render_targets(document["targets"]))
    placement = (f" (servers on cpu {pinning.server_cpu}, load generator on cpu {pinning.client_cpu})"
                 if pinning else "")
    print(f"\n{document['elapsed_s']:.0f} s; load average {document['load_before']} before, "
          f"{document['load_after']} after; {document['cpus']} cpus{placement}; loop {document['loop']}; "
          f"rounds {document['rounds']} x {document['duration']:g} s")


def write_results(args, document):
    """Every result as JSON and, unless ``--no-plot``, the throughput plot."""
    json_path = Path(args.json) if args.json else RESULTS / "latest.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document, indent=1, default=str))
    if not args.no_plot:
        png = Path(args.plot) if args.plot else RESULTS / "throughput.png"
        try:
            from .plot import plot_throughput
            plot_throughput(document, png)
            print(f"plot: {png}")
        except ImportError as exc:
            print(f"plot skipped: {exc} (pip install matplotlib)")
    print(f"results: {json_path}")
