"""The report of ``python -m bench``: table rows from the raw results, and the targets.

The targets are data (:data:`TARGETS`): what is compared, the bound, and why the bound is
what it is. :func:`build_report` walks that table over a run's results.
"""
import operator
import statistics
from dataclasses import dataclass

from . import cases
from .loadgen import ECHO_PAYLOAD
from .sampling import cpu_us
from .servers import WORKERS

SERVER_ORDER = ("gevent-bare", "websockets", "node-ws", "mockd", "mockd-nojournal", "mockd-cluster",
                f"mockd-workers{WORKERS}")
HEADINGS = ("case", "server", "figure", "x bare", "p50 ms", "p99 ms", "conn min/med/max", "srv CPU", "us/msg",
            "RSS MB", "err")
ALIGNMENTS = "<<>>>>>>>>>"
COMPARISONS = {">=": operator.ge, "<=": operator.le, "<": operator.lt}


# ------------------------------------------------------------------------------ targets

def lookup(results, path, labels):
    """The figure at ``path`` (keys formatted with ``labels``) in the results; None if absent."""
    value = results
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key.format(**labels))
    return value


@dataclass(frozen=True)
class Paired:
    """Throughput of a round-trip case over another's: the median of the per-round ratios (both
    sides measured seconds apart in each round, so that a burst of other load on the machine
    hits both alike). The detail compares server CPU per round trip, the figure least disturbed
    by other load; with ``tails`` it gives both p99s and both CPU figures instead, for a case
    whose server is not the only one working (a proxy: its upstream's CPU is not sampled, so a
    ratio of CPU figures would compare a part with a whole)."""

    case: str
    base: str
    tails: bool = False

    def achieved(self, results, labels):
        case = lookup(results, ("round_trips", self.case), labels)
        base = lookup(results, ("round_trips", self.base), labels)
        return paired_ratio(case, base), (_tails(case, base) if self.tails else _cpu_ratio(case, base))


def _cpu_ratio(case, base):
    case_cpu, base_cpu = cpu_us(case), cpu_us(base)
    return f"by CPU per round trip: {base_cpu / case_cpu:.2f}" if case_cpu and base_cpu else ""


def _tails(case, base):
    if not case or not base or case.get("p99_ms") is None or base.get("p99_ms") is None:
        return ""
    detail = f"p99 {case['p99_ms']:.1f} ms vs {base['p99_ms']:.1f} ms"
    case_cpu, base_cpu = cpu_us(case), cpu_us(base)
    if case_cpu and base_cpu:
        detail += f"; server CPU per round trip {case_cpu:.0f} us vs {base_cpu:.0f} us"
    return detail


@dataclass(frozen=True)
class CpuPaired:
    """Server CPU per round trip of a round-trip case over another's: the median of the
    per-round ratios (as :class:`Paired`); the detail gives both figures and the throughput ratio."""

    case: str
    base: str

    def achieved(self, results, labels):
        case = lookup(results, ("round_trips", self.case), labels)
        base = lookup(results, ("round_trips", self.base), labels)
        if not cpu_us(case) or not cpu_us(base):
            return None, ""
        ratios = [mine / theirs for mine, theirs in zip(case.get("cpu_rounds") or [], base.get("cpu_rounds") or [])
                  if mine and theirs]
        return (statistics.median(ratios) if ratios else cpu_us(case) / cpu_us(base),
                f"{cpu_us(case):.1f} us vs {cpu_us(base):.1f} us per round trip (median rounds); "
                f"throughput {paired_ratio(case, base):.2f}x")


@dataclass(frozen=True)
class Ratio:
    """One figure over another, each a path into the results."""

    numerator: tuple
    denominator: tuple
    unit: str = ""

    def achieved(self, results, labels):
        top, bottom = lookup(results, self.numerator, labels), lookup(results, self.denominator, labels)
        detail = (f"{_short(top)}{self.unit} vs {_short(bottom)}{self.unit}"
                  if top is not None and bottom is not None else "")
        return ratio(top, bottom), detail


def _short(value):
    return f"{value:.2f}" if abs(value) < 100 else f"{value:,.0f}"


@dataclass(frozen=True)
class Figure:
    """One figure of the results, as it is."""

    path: tuple

    def achieved(self, results, labels):
        return lookup(results, self.path, labels), ""


@dataclass(frozen=True)
class Target:
    """``name`` and the paths of ``measure`` are formatted with the run's labels: ``{mid}`` and
    ``{top}`` connections, ``{big_mib}``, ``{age}`` handshakes."""

    name: str
    measure: object
    op: str
    bound: float
    why: str


TARGETS = (
    Target("echo at {mid} conn / bare gevent", Paired("echo/{mid}/mockd", "echo/{mid}/gevent-bare"), ">=", 1.0,
           "mockd replaces the framing of the library it is built on; it must not be slower than the library"),
    Target("echo at {top} conn / bare gevent", Paired("echo/{top}/mockd", "echo/{top}/gevent-bare"), ">=", 1.0,
           "the same with many connections, where the scheduling of greenlets counts"),
    Target("templated json reply / bare echo ({mid} conn)", Paired("json20/{mid}/mockd", "echo/{mid}/gevent-bare"),
           ">=", 0.7, "a matched, templated reply (dispatch, a JSON parse, three template functions) may cost "
                      "at most 30% over the library's bare echo"),
    Target(f"{cases.EXACT_MATCHERS} exact matchers / 1 matcher", Paired("exact200/{mid}/mockd", "exact1/{mid}/mockd"),
           ">=", 0.9, "exact matchers are found by lookup: their number must not matter"),
    Target("p99 at {top} conn / bare gevent p99", Ratio(("round_trips", "echo/{top}/mockd", "p99_ms"),
                                                     ("round_trips", "echo/{top}/gevent-bare", "p99_ms"), " ms"),
           "<=", 1.5, "under load, mockd's tail latency must stay near the library's"),
    Target("no starvation at {top} conn: min / median round trips per conn",
           Ratio(("round_trips", "echo/{top}/mockd", "conn_min"), ("round_trips", "echo/{top}/mockd", "conn_median")),
           ">=", 0.3, "a connection whose client answers fast must not keep the others waiting"),
    Target("{big_mib} MiB binary echo, seconds", Figure(("memory", "mockd", "big", "seconds_median")), "<", 0.5,
           "gevent-websocket's per-byte unmasking takes over a second for 16 MiB"),
    Target("{big_mib} MiB echo: peak RSS growth / message size",
           Figure(("memory", "mockd", "big", "peak_over_message")), "<", 3.0,
           "a large message is held about once, never two copies at a time"),
    Target("KiB per idle connection (heartbeat + journal on)", Figure(("memory", "mockd", "idle", "kib_per_conn")),
           "<=", 32.0, "10,000 idle clients must fit in a few hundred MiB"),
    Target("journal on / journal off, echo at {mid} conn", Paired("echo/{mid}/mockd", "echo/{mid}/mockd-nojournal"),
           ">=", 0.9, "the journal is on by default: it may cost at most 10% of echo throughput"),
    Target("journal on / journal off, echo at {top} conn", Paired("echo/{top}/mockd", "echo/{top}/mockd-nojournal"),
           ">=", 0.9, "the same with many connections"),
    Target("echo with --cluster / without, {mid} conn (journal on)",
           Paired("echo/{mid}/mockd-cluster", "echo/{mid}/mockd"), ">=", 0.8,
           "a node of a cluster serves its clients from memory: Redis is for what the nodes share"),
    Target(f"CPU per round trip, --workers {WORKERS} / one process, echo at {{mid}} conn",
           CpuPaired(f"echo/{{mid}}/mockd-workers{WORKERS}", "echo/{mid}/mockd"), "<=", 1.5,
           "the supervisor, both workers and their private redis-server, on one core: two processes split the "
           "clients, each waking for fewer of them at a time; half as many messages per wake-up may cost more "
           "syscalls and switches per message, not 1.5 times the work"),
    Target("broadcast p99 delivery, 2 cluster nodes / one process ({clients} conn)",
           Ratio(("broadcast", "cluster", "p99_ms"), ("broadcast", "single", "p99_ms"), " ms"), "<=", 2.0,
           "the node posted to sends to its half, then asks the other through Redis to send to the other half: "
           "the same fan-out (on the same core) plus a Redis round trip, not twice the wait"),
    Target("broadcast through the cluster: worst broadcast, delivered and counted / clients",
           Figure(("broadcast", "cluster", "complete")), ">=", 1.0,
           "every client of both nodes gets every broadcast, and the API's 'sent' counts them all"),
    Target("proxied echo / direct echo, {mid} conn",
           Paired("proxy/{mid}/mockd", "direct/{mid}/gevent-upstream", tails=True),
           ">=", 0.5, "through the proxy each message crosses a second connection to the same upstream (on a "
                      "core of its own, as a deployed backend): the proxy may halve its throughput at most"),
    Target("churn p99 after {age} handshakes / fresh server's",
           Ratio(("aged_churn", "aged", "p99_ms"), ("aged_churn", "fresh", "p99_ms"), " ms"), "<=", 1.5,
           "a server that has served many clients must not pause for what they left behind (issue 18)"),
)


def run_labels(plan, results):
    """What the names and paths of the targets are formatted with."""
    aged = results.get("aged_churn")
    return {"mid": plan.mid, "top": plan.top, "big_mib": f"{plan.big_mib:g}",
            "age": f"{aged['age'] if aged else plan.age:,}", "clients": f"{plan.broadcast_clients:,}"}


def evaluate(targets, results, labels):
    """The verdict on every target (one per name: with one connection count ``{mid}`` and
    ``{top}`` are the same target); ``met`` is None when the run did not measure it."""
    verdicts, seen = [], set()
    for target in targets:
        name = target.name.format(**labels)
        if name in seen:
            continue
        seen.add(name)
        achieved, detail = target.measure.achieved(results, labels)
        met = None if achieved is None else COMPARISONS[target.op](achieved, target.bound)
        verdicts.append({"target": name, "achieved": achieved, "op": target.op, "threshold": target.bound,
                         "met": met, "detail": detail, "why": target.why})
    return verdicts


def paired_ratio(case, base):
    if not case or not base:
        return None
    case_rounds, base_rounds = case.get("rounds") or [], base.get("rounds") or []
    if len(case_rounds) != len(base_rounds) or not case_rounds or not all(base_rounds):
        return ratio(case["msgs_per_s"], base["msgs_per_s"])
    return statistics.median(mine / theirs for mine, theirs in zip(case_rounds, base_rounds))


def ratio(numerator, denominator):
    if numerator is None or denominator in (None, 0):
        return None
    return numerator / denominator


# ------------------------------------------------------------------------------ rows

def build_report(plan, results):
    """Rows of the table and the verdict on every target, from the raw results (the keys
    ``round_trips``, ``broadcast``, ``feed``, ``churn``, ``memory`` and ``aged_churn``; all but
    the first two are absent from a ``--cluster-only`` run)."""
    churn, feed = results.get("churn") or {}, results.get("feed") or {}
    bare_churn = churn.get("gevent-bare")
    rows = (round_trip_rows(plan, results["round_trips"]) + broadcast_rows(results.get("broadcast"))
            + feed_rows(plan, feed) + pack_feed_rows(plan, results.get("pack_feeds") or {}, feed.get("mockd"))
            + [_churn_row(f"churn at {plan.churn_rate:g}/s", name, result, bare_churn)
               for name, result in churn.items()]
            + memory_rows(plan, results.get("memory") or {})
            + aged_churn_rows(plan, results.get("aged_churn"), bare_churn))
    return rows, evaluate(TARGETS, results, run_labels(plan, results))


def _row(case, server, figure, unit, x_bare, errors, **columns):
    row = {"case": case, "server": server, "figure": figure, "unit": unit, "x_bare": x_bare, "p50_ms": None,
           "p99_ms": None, "conn": None, "cpu": None, "rss_mb": None, "us_per_rt": None, "errors": errors,
           "note": None, "rounds": None}
    row.update(columns)
    return row


def _over_bare(result, base, key):
    return ratio(result.get(key), base and base.get(key))


def _spread(result):
    return result["conn_min"], result["conn_median"], result["conn_max"]


def round_trip_rows(plan, round_trips):
    cases_and_bases = [(f"echo {len(ECHO_PAYLOAD)} B, {conns} conn", f"echo/{conns}/{name}",
                        f"echo/{conns}/gevent-bare") for conns in plan.conns for name in SERVER_ORDER]
    base = f"echo/{plan.mid}/gevent-bare"
    cases_and_bases += [
        (f"json reply, {cases.JSON_MATCHERS} matchers, {plan.mid} conn", f"json20/{plan.mid}/mockd", base),
        (f"exact, 1 matcher, {plan.mid} conn", f"exact1/{plan.mid}/mockd", base),
        (f"exact, {cases.EXACT_MATCHERS}th of {cases.EXACT_MATCHERS}, {plan.mid} conn", f"exact200/{plan.mid}/mockd",
         base),
        (f"proxied echo to gevent-upstream, {plan.mid} conn", f"proxy/{plan.mid}/mockd", base),
        (f"direct echo of gevent-upstream, {plan.mid} conn", f"direct/{plan.mid}/gevent-upstream", base)]
    return [_round_trip_row(label, round_trips[case_id], round_trips.get(base_id))
            for label, case_id, base_id in cases_and_bases if case_id in round_trips]


def _round_trip_row(label, result, base):
    return _row(label, result["server"], result["msgs_per_s"], "rt/s", _over_bare(result, base, "msgs_per_s"),
                result["errors"] + result["closed_early"] + result.get("connect_failures", 0),
                p50_ms=result["p50_ms"], p99_ms=result["p99_ms"], conn=_spread(result), cpu=result["server_cpu_pct"],
                rss_mb=result["server_peak_rss_mb"], us_per_rt=cpu_us(result), rounds=result.get("rounds"))


def broadcast_rows(broadcast):
    """The broadcast to one process and to two nodes of a cluster: the figure is the p99
    delivery latency, its ``x bare`` over the one process's (issue 16)."""
    if not broadcast:
        return []
    single = broadcast["single"]
    return [_row(f"broadcast to {result['clients']:,} conn, p99 delivery", "+".join(result["servers"]),
                 result["p99_ms"], "ms", _over_bare(result, single, "p99_ms"),
                 result["missed"] + result["late"] + result["closed"], p50_ms=result["p50_ms"],
                 p99_ms=result["p99_ms"], conn=_spread(result), cpu=result["server_cpu_pct"],
                 us_per_rt=result["us_per_delivery"], rss_mb=result["server_rss_mb"],
                 note=f"{result['broadcasts']} broadcasts posted to {result['posted_to']}: delivered "
                      f"{result['delivered_min']}-{result['delivered_max']}, 'sent' {result['sent_min']}-"
                      f"{result['sent_max']}; last client p50 {result['last_p50_ms'] or 0:.1f} ms; POST answered "
                      f"p50 {result['post_p50_ms'] or 0:.1f} ms; x bare: over one process; us/msg: per delivery")
            for result in (single, broadcast["cluster"])]


def feed_rows(plan, feed):
    base = feed.get("gevent-bare")
    return [_row(f"feed {result['conns']} conn every {plan.feed_period * 1000:g} ms", name, result["msgs_per_s"],
                 "msg/s", _over_bare(result, base, "msgs_per_s"),
                 result["closed_early"] + result.get("connect_failures", 0),
                 p50_ms=result["interval_p50_ms"], p99_ms=result["interval_p99_ms"], conn=_spread(result),
                 cpu=result["server_cpu_pct"], rss_mb=result["server_peak_rss_mb"], us_per_rt=cpu_us(result),
                 note=f"ideal {result.get('ideal_msgs_per_s', 0):,.0f}/s; p50/p99 = gap between messages, "
                      f"send skew p99 {result.get('skew_p99_ms') or 0:.1f} ms")
            for name, result in feed.items()]


def pack_feed_rows(plan, pack_feeds, raw_feed):
    """Subscriptions fed per second through the GraphQL and MQTT packs; their ``x bare`` column
    is over mockd's own raw-WebSocket feed of the same run (issue 15), not over gevent-bare."""
    names = {"graphql": "GraphQL subscriptions", "mqtt": "MQTT subscriptions"}
    return [_row(f"{names[pack]}, {result['conns']} subscribers", "mockd", result["msgs_per_s"], "msg/s",
                 _over_bare(result, raw_feed, "msgs_per_s"), result["closed_early"] + result.get("connect_failures", 0),
                 p50_ms=result["interval_p50_ms"], p99_ms=result["interval_p99_ms"], conn=_spread(result),
                 cpu=result["server_cpu_pct"], rss_mb=result["server_peak_rss_mb"], us_per_rt=cpu_us(result),
                 note=f"ideal {result.get('ideal_msgs_per_s', 0):,.0f}/s; x bare: over mockd's raw feed")
            for pack, result in pack_feeds.items()]


def _churn_row(case, name, result, base):
    return _row(case, name, result["handshakes_per_s"], "hs/s", _over_bare(result, base, "handshakes_per_s"),
                result["failures"] + result["skipped"], p50_ms=result["p50_ms"], p99_ms=result["p99_ms"],
                cpu=result["server_cpu_pct"], rss_mb=result["server_peak_rss_mb"],
                note="p50/p99 = connect + handshake")


def aged_churn_rows(plan, aged_churn, base):
    if not aged_churn:
        return []
    return [_churn_row(f"churn at {plan.churn_rate:g}/s, {when}", "mockd", aged_churn[key], base)
            for when, key in (("fresh", "fresh"), (f"after {aged_churn['age']:,} handshakes", "aged"))]


def memory_rows(plan, memory):
    """The big echo of every server, then the idle connections of every server."""
    bare = memory.get("gevent-bare", {})
    return ([_big_echo_row(plan, name, server["big"], bare.get("big")) for name, server in memory.items()]
            + [_idle_row(name, server["idle"], bare.get("idle")) for name, server in memory.items()])


def _big_echo_row(plan, name, big, base):
    return _row(f"{plan.big_mib:g} MiB binary echo", name, big["seconds_median"], "s",
                _over_bare(big, base, "seconds_median"), big["errors"] + big["closed_early"],
                cpu=big["server_cpu_pct"], rss_mb=big.get("server_peak_rss_mb"),
                note=f"peak RSS growth {big.get('peak_over_message', 0):.2f}x the message")


def _idle_row(name, idle, base):
    return _row(f"{idle['conns']:,} idle conn", name, idle.get("kib_per_conn"), "KiB/conn",
                _over_bare(idle, base, "kib_per_conn"),
                idle["errors"] + idle["closed_early"] + idle["connect_failures"],
                rss_mb=idle.get("server_rss_after_mb"),
                note=f"{idle['handshakes_per_s']:,.0f} handshakes/s while opening")


# ------------------------------------------------------------------------------ text

def _number(value, digits=0):
    return "-" if value is None else f"{value:,.{digits}f}"


def _cells(row):
    digits = {"s": 3, "KiB/conn": 1, "ms": 2}.get(row["unit"], 0)
    return (row["case"], row["server"], f"{_number(row['figure'], digits)} {row['unit']}", _number(row["x_bare"], 2),
            _number(row["p50_ms"], 2), _number(row["p99_ms"], 2),
            "/".join(_number(count) for count in row["conn"]) if row["conn"] else "-",
            "-" if row["cpu"] is None else f"{row['cpu']:.0f}%", _number(row["us_per_rt"], 1),
            _number(row["rss_mb"], 1), str(row["errors"]))


def _line(cells, widths):
    return "  ".join(f"{cell:{align}{width}}" for cell, align, width in zip(cells, ALIGNMENTS, widths)).rstrip()


def render_table(rows):
    """The rows as aligned text, a blank line between cases."""
    body = [_cells(row) for row in rows]
    widths = [max(len(cells[column]) for cells in [HEADINGS] + body) for column in range(len(HEADINGS))]
    lines = [_line(HEADINGS, widths), _line(["-" * width for width in widths], widths)]
    for number, cells in enumerate(body):
        if number and cells[0] != body[number - 1][0]:
            lines.append("")
        lines.append(_line(cells, widths))
    return "\n".join(lines)


def render_targets(verdicts):
    width = max((len(verdict["target"]) for verdict in verdicts), default=10)
    lines = []
    for verdict in verdicts:
        achieved = "-" if verdict["achieved"] is None else f"{verdict['achieved']:.3f}"
        met = "n/a" if verdict["met"] is None else "MET" if verdict["met"] else "MISSED"
        detail = f"  ({verdict['detail']})" if verdict["detail"] else ""
        lines.append(f"{verdict['target']:<{width}}  {achieved:>9}  {verdict['op']:>2} {verdict['threshold']:<5g} "
                     f"{met:<6}{detail}")
    return "\n".join(lines)
