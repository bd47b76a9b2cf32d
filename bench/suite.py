"""The cases of ``python -m bench``, run with :mod:`bench.loadgen` against started servers.

Each ``run_*`` function returns the raw load-generator results that :mod:`bench.report` turns
into rows and verdicts.
"""
import contextlib
import sys
import time
from collections import namedtuple

from . import cases, loadgen
from .sampling import cpu_us
from .servers import WORKERS

AGING_RATE = 3000.0   # handshakes/s asked for while ageing a server: as fast as it takes them

# Servers of the cluster cases' round trips (bench/servers: mockd_server with --cluster, workers_server).
CLUSTER_SERVERS = ("mockd-cluster", f"mockd-workers{WORKERS}")

# One closed-loop run of a round: ``case_id`` is "<case>/<connections>/<server name>".
RoundTripJob = namedtuple("RoundTripJob", "case_id server path conns options")


def log(message):
    print(message, file=sys.stderr, flush=True)


def echo_path(server):
    return "/echo" if server.name.startswith("mockd") else "/"


def round_trip_jobs(plan, servers):
    """Every echo at every connection count on every server but the journal-off mockd, its
    echoes that the targets compare with, and mockd's matcher and proxy cases at the middle
    count. The proxied echo goes through mockd's ``/proxy`` to the upstream (a second bare
    server, see ``servers.upstream_server``); the direct echo it is compared with is that
    upstream's own, in the same round. ``--cluster-only``: mockd's echo at the middle count and
    the cluster's (:func:`cluster_jobs`)."""
    if plan.cluster_only:
        return [RoundTripJob(f"echo/{plan.mid}/mockd", servers["mockd"], "/echo", plan.mid, {}),
                *cluster_jobs(plan, servers)]
    mockd, nojournal, upstream = servers["mockd"], servers["mockd-nojournal"], servers["gevent-upstream"]
    apart = {nojournal, upstream, *(servers.get(name) for name in CLUSTER_SERVERS)}
    jobs = [RoundTripJob(f"echo/{conns}/{name}", server, echo_path(server), conns, {})
            for conns in plan.conns for name, server in servers.items() if server not in apart]
    jobs += cluster_jobs(plan, servers)
    jobs += [RoundTripJob(f"echo/{conns}/{nojournal.name}", nojournal, "/echo", conns, {})
             for conns in sorted({plan.mid, plan.top})]
    exact = {"payload": cases.EXACT_REQUEST, "reply": cases.EXACT_REPLY}
    jobs += [
        RoundTripJob(f"json20/{plan.mid}/mockd", mockd, "/json", plan.mid,
                     {"payload": cases.JSON_REQUEST, "any_reply": True}),
        RoundTripJob(f"exact1/{plan.mid}/mockd", mockd, "/exact1", plan.mid, exact),
        RoundTripJob(f"exact200/{plan.mid}/mockd", mockd, "/exact200", plan.mid, exact),
        RoundTripJob(f"proxy/{plan.mid}/mockd", mockd, cases.PROXY_PATH, plan.mid, {}),
        RoundTripJob(f"direct/{plan.mid}/gevent-upstream", upstream, "/", plan.mid, {}),
    ]
    return jobs


def cluster_jobs(plan, servers):
    """The echo at the middle count of a node of a cluster and of ``--workers 2`` (issue 16),
    when the run has them (they need ``redis-server``)."""
    return [RoundTripJob(f"echo/{plan.mid}/{name}", servers[name], "/echo", plan.mid, {})
            for name in CLUSTER_SERVERS if name in servers]


def run_round_trips(plan, jobs):
    """Interleaved rounds of the round-trip jobs (every job once a round, so that a burst of
    other load on the machine hits every server alike): ``{case_id: its median round}``."""
    raw = {}
    for number in range(1, plan.rounds + 1):
        log(f"round {number}/{plan.rounds}: {len(jobs)} round-trip runs of {plan.duration:g} s")
        for job in jobs:
            result = loadgen.run_sync(loadgen.rtt(job.server.url(job.path), job.conns, plan.duration, plan.warmup,
                                                  pid=job.server.pid, **job.options))
            result["server"] = job.server.name
            raw.setdefault(job.case_id, []).append(result)
    return {case_id: median_run(runs) for case_id, runs in raw.items()}


def median_run(runs, key="msgs_per_s"):
    """The run with the median ``key`` (the middle one of an odd count, else the lower), with
    every run's ``key`` under ``rounds`` and its server CPU per round trip under ``cpu_rounds``."""
    ordered = sorted(runs, key=lambda run: run.get(key) or 0)
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["rounds"] = [round(run.get(key) or 0) for run in runs]
    chosen["cpu_rounds"] = [cpu_us(run) for run in runs]
    return chosen


def run_feed(plan, servers):
    """Receive-only load on ``/feed`` of each server: ``{server name: result}``."""
    results = {}
    for server in servers:
        log(f"{server.name}: feed to {plan.feed_conns} connections")
        results[server.name] = loadgen.run_sync(loadgen.feed(server.url("/feed"), plan.feed_conns, plan.feed_duration,
                                                             plan.feed_warmup, plan.feed_period, pid=server.pid))
    return results


def run_pack_feeds(plan, mockd):
    """The feed's load through the GraphQL and MQTT packs of mockd: ``{pack: result}``."""
    from . import packs
    results = {}
    for pack, path in (("graphql", cases.GRAPHQL_PATH), ("mqtt", cases.MQTT_PATH)):
        log(f"mockd: {pack} feed to {plan.feed_conns} subscribers")
        results[pack] = loadgen.run_sync(packs.pack_feed(mockd.url(path), pack, plan.feed_conns, plan.feed_duration,
                                                         plan.feed_warmup, plan.feed_period, pid=mockd.pid))
    return results


def run_churn(plan, servers):
    """Handshake churn on each server's echo path: ``{server name: result}``."""
    results = {}
    for server in servers:
        log(f"{server.name}: handshake churn at {plan.churn_rate:g}/s")
        time.sleep(1.0)  # let the server finish closing the previous case's connections
        results[server.name] = _churn(plan, server, echo_path(server))
    return results


def _churn(plan, server, path):
    return loadgen.run_sync(loadgen.churn(server.url(path), plan.churn_rate, plan.churn_duration, pid=server.pid))


def run_aged_churn(plan, make_server, path="/echo"):
    """Churn on a fresh server, then after ``plan.age`` handshakes through it (issue 18).

    Each closed connection used to leave reference cycles, so a server that had served many
    clients paused for the cyclic collector and its churn p99 grew several times over.

    :return: ``{"fresh": churn result, "aged": churn result, "age": handshakes run in between}``.
    """
    server = make_server().start()
    try:
        log(f"mockd (fresh): handshake churn at {plan.churn_rate:g}/s")
        fresh = _churn(plan, server, path)
        done = _age(server.url(path), plan.age)
        time.sleep(1.0)  # let the last closes finish
        log(f"mockd (after {done:,} handshakes): handshake churn at {plan.churn_rate:g}/s")
        aged = _churn(plan, server, path)
    finally:
        server.stop()
    return {"fresh": fresh, "aged": aged, "age": done}


def _age(url, handshakes):
    """Run at least ``handshakes`` handshakes through the server, in chunks of at most 10 s."""
    done, started = 0, time.monotonic()
    while done < handshakes:
        seconds = min(10.0, max(0.2, (handshakes - done) / AGING_RATE))
        done += loadgen.run_sync(loadgen.churn(url, AGING_RATE, seconds, max_inflight=200))["handshakes"]
        log(f"mockd: aged by {done:,} handshakes in {time.monotonic() - started:.0f} s")
    return done


def run_memory(plan, make_server, running, path_big, path_idle):
    """The big binary echo and the idle connections: ``{"big": result, "idle": result}``."""
    name = running.name
    repeat = plan.big_repeat if name.startswith("mockd") else plan.big_repeat_bare
    with _memory_server(plan, make_server, running) as server:
        log(f"{name}: {plan.big_mib:g} MiB binary echo x{repeat}")
        big = loadgen.run_sync(loadgen.big(server.url(path_big), plan.big_mib, repeat, pid=server.pid, timeout=30.0))
    with _memory_server(plan, make_server, running) as server:
        log(f"{name}: {plan.idle} idle connections")
        idle = loadgen.run_sync(loadgen.idle(server.url(path_idle), plan.idle, plan.idle_settle, pid=server.pid))
    return {"big": big, "idle": idle}


@contextlib.contextmanager
def _memory_server(plan, make_server, running):
    """A fresh server process in a full run, so that what earlier cases left in the heap does
    not blur the memory figures; the ``running`` one in a quick run."""
    if not plan.fresh_memory_servers:
        yield running
        return
    server = make_server().start()
    try:
        yield server
    finally:
        server.stop()
