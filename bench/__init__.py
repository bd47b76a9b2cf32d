"""mockd's benchmark: ``python -m bench`` (or ``bench/run``); see ``bench/README.rst``.

- :mod:`bench.loadgen`: our load generator (raw frames over asyncio/uvloop);
- :mod:`bench.runner`: starts every server, runs every case, prints the ratio table;
- :mod:`bench.cases`: the mockd configuration and the messages of the cases;
- :mod:`bench.procstat`: server CPU and memory from /proc;
- ``bench/servers/``: the baseline servers.
"""
