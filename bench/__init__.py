"""mockd's benchmark: ``python -m bench`` from the repository root (or ``bench/run``); see
``bench/README.rst``.

- :mod:`bench.runner`: the command: starts the servers, runs the cases, prints and writes the report;
- :mod:`bench.plan`: its options, and the durations and sizes they give;
- :mod:`bench.suite`: the cases, run against started servers;
- :mod:`bench.report`: the table rows and the targets (one table of what is compared and the bound);
- :mod:`bench.cases`: the mockd configuration and the messages of the cases;
- :mod:`bench.loadgen`: our load generator's modes (raw frames over asyncio/uvloop) and its CLI,
  built on :mod:`bench.frames` (handshake, frames), :mod:`bench.protocols` (the connections)
  and :mod:`bench.sampling` (server CPU and RSS during a run, percentiles);
- :mod:`bench.procstat`: server CPU and memory from /proc;
- :mod:`bench.soak`: the long load and soak runs of one ``mockd serve``;
- :mod:`bench.servers`: starting the servers; the baseline servers' scripts are beside it.
"""
