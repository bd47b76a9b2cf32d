"""``mockd serve --workers N``: N mock server processes on the same ports under one supervisor.

The supervisor (:func:`supervise`, called by ``mockd.bootstrap.serve`` before gevent is patched)
serves nothing itself. It picks the ports (``-p 0``: one free port for every worker) and keeps
them bound with ``SO_REUSEPORT`` (:func:`mockd.listen.reserve`); each worker binds them with
``SO_REUSEPORT`` too, and the kernel spreads new connections over the workers. The workers share
the mocks through the cluster backend (mockd/backend/redis.py): ``--cluster URL``, or a private
``redis-server`` on a Unix socket in a directory of mode 0700 (``--cluster auto``, and the
default with ``--workers``), started before them and stopped after them.

Each worker is a fresh ``python -m mockd serve`` process, not an ``os.fork()`` of this one: a
fork would copy whatever the parent had loaded and started (plugins, threads, a gevent hub) into
every child, while a new interpreter starts as any single ``mockd serve`` does, imports its
plugins itself, and is restarted exactly as it was started. Its command line is the
supervisor's own options written back from the parsed values (:func:`worker_argv`: the
declarations of mockd/options.py, so a new option is passed on without a change here), with
the ports picked here, its node id (``NAME-wI``) and the cluster URL; the admin token goes
through the environment, never a command line ``ps`` shows.

A worker that dies is restarted: at once if it had served for :data:`STABLE` seconds, else
after a back-off that doubles up to :data:`BACKOFF_MAX`. SIGTERM or SIGINT: SIGTERM to every
worker, each closes its clients as one ``mockd serve`` does; those still running after
:data:`STOP_GRACE` seconds are killed, then the private Redis is stopped and the exit status is
0. SIGHUP goes on to every worker (each reloads ``--config``). The workers and the private Redis
run in process groups of their own (Ctrl+C in a terminal reaches the supervisor only, which
stops them in order) and, on Linux, get SIGTERM should the supervisor die
(``PR_SET_PDEATHSIG``).

Only the standard library is imported here: the supervisor never loads gevent or Flask.
"""
import logging
import os
import selectors
import signal
import subprocess
import sys
import time

from .errors import MockdError

__all__ = ["WORKER_ENV", "remove_pid_file", "supervise", "worker_argv", "write_pid_file"]

log = logging.getLogger("mockd.workers")

#: Set by the supervisor in its workers' environment (to its pid): this process is a worker.
WORKER_ENV = "MOCKD_WORKER_OF"
READY = "Press Ctrl+C to stop"  # the last line of a worker's banner (mockd/bootstrap.py)
STARTUP_TIMEOUT = 60.0  # seconds a worker may take to print its banner (a large config loads slowly)
STOP_GRACE = 10.0       # seconds workers get to stop after SIGTERM before they are killed
STABLE = 10.0           # a worker that served this long before it died is restarted at once
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0


# ---------------------------------------------------------------- the pid file (one process's or the supervisor's)

def write_pid_file(path):
    try:
        with open(path, "w", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")
    except OSError as exc:
        raise MockdError(f"cannot write the pid file {path}: {exc.strerror or exc}") from None


def remove_pid_file(path):
    try:
        with open(path, encoding="ascii") as fh:
            if fh.read().strip() != str(os.getpid()):
                return  # another process took the file over
        os.unlink(path)
    except OSError:
        pass


# ---------------------------------------------------------------- a worker's command line

_PLUGIN_OPTIONS = (("plugins_dir", "--plugins-dir"), ("disable_plugin", "--disable-plugin"),
                   ("no_plugin_autoload", "--no-plugin-autoload"))
_SECRET = {"admin_token": "MOCKD_ADMIN_TOKEN"}  # passed in the environment


def worker_argv(args, **overrides):
    """``serve`` and the options of the parsed ``args`` (``overrides`` replacing some) as a
    command line that parses back to the same values; the admin token is left out."""
    from .options import command_line
    values = {**vars(args), **overrides}
    argv = ["serve"] + ([f"--config={values['config']}"] if values.get("config") else [])
    argv += command_line({name: value for name, value in values.items() if name not in _SECRET})
    for name, flag in _PLUGIN_OPTIONS:
        value = values.get(name)
        if isinstance(value, (list, tuple)):
            argv += [f"{flag}={item}" for item in value]
        elif value:
            argv.append(flag if value is True else f"{flag}={value}")
    return argv


def _worker_environment(args):
    """This environment without the serve options' variables (the command line has the values),
    with the admin token and the mark of a worker."""
    from .options import declarations
    environ = dict(os.environ)
    for name in ["MOCKD_CONFIG"] + [option.env for _, option in declarations().values() if option.env]:
        environ.pop(name, None)
    for name, variable in _SECRET.items():
        if getattr(args, name, None):
            environ[variable] = getattr(args, name)
    environ[WORKER_ENV] = str(os.getpid())
    return environ


def _shown_url(url):
    """``url`` without its password, for the banner."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()


# ---------------------------------------------------------------- the supervisor

class _Worker:
    def __init__(self, index, node_id):
        self.index, self.node_id = index, node_id
        self.proc, self.ready, self.banner = None, False, []
        self.started, self.failures, self.restart_at = 0.0, 0, None
        self._pending = b""

    def __str__(self):
        return f"worker {self.node_id} (pid {self.proc.pid})" if self.proc else f"worker {self.node_id}"


class _StartFailed(Exception):
    def __init__(self, status):
        self.status = status


class _Interrupted(Exception):
    """SIGTERM or SIGINT while the workers start."""


def _how(returncode):
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


class Supervisor:
    def __init__(self, args, count, cluster_url, ports):
        import socket
        self.args, self.cluster_url, self.ports = args, cluster_url, ports
        base = args.node_id or f"{socket.gethostname()}-{os.getpid()}"
        self.workers = [_Worker(index, f"{base}-w{index}") for index in range(1, count + 1)]
        self.redis = None  # the PrivateRedis, set by supervise()
        self._environment = _worker_environment(args)
        from .backend.redisserver import die_with_parent
        self._preexec = die_with_parent()
        self._selector = selectors.DefaultSelector()
        self._signals, self._running = [], False

    # ---- processes

    def _spawn(self, worker, reset=False):
        argv = worker_argv(self.args, port=self.ports[0], admin_port=self.ports[1], node_id=worker.node_id,
                           cluster=self.cluster_url, cluster_reset=reset, pid_file=None,
                           workers=len(self.workers))
        worker.proc = subprocess.Popen([sys.executable, "-m", "mockd", *argv], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, env=self._environment, process_group=0,
                                       preexec_fn=self._preexec)
        worker.ready, worker.banner, worker.started, worker.restart_at = False, [], time.monotonic(), None
        os.set_blocking(worker.proc.stdout.fileno(), False)
        self._selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
        log.debug("%s started: %s", worker, " ".join(argv))

    def _read(self, worker, final=False):
        stream = worker.proc.stdout
        try:
            data = os.read(stream.fileno(), 65536)
        except BlockingIOError:
            data = None
        if data:
            lines = (worker._pending + data).split(b"\n")
            worker._pending = lines.pop()
            for line in lines:
                text = line.decode("utf-8", "replace")
                if worker.ready:  # what a worker prints after its banner (a plugin's print), passed on
                    try:
                        print(text, flush=True)
                    except (OSError, ValueError):  # nobody reads our output any more: no reason to stop
                        pass
                    continue
                worker.banner.append(text)
                if READY in text:
                    worker.ready = True
                    if self._running:
                        log.info("%s is serving again", worker)
        if data == b"" or final:
            self._selector.unregister(stream)
            stream.close()

    def _pump(self, timeout):
        """Wait up to ``timeout`` seconds for output or a signal; the signals received."""
        for key, _ in self._selector.select(max(timeout, 0)):
            if key.data is None:
                while True:
                    try:
                        if not os.read(key.fd, 512):
                            break
                    except BlockingIOError:
                        break
            else:
                self._read(key.data)
        signals, self._signals = self._signals, []
        return signals

    def _exited(self, worker):
        """The worker's exit status once it has ended (its output read to the end), else None."""
        if worker.proc is None or worker.proc.poll() is None:
            return None
        if not worker.proc.stdout.closed:
            self._read(worker, final=True)
        return worker.proc.returncode

    # ---- start, run, stop

    def start(self):
        """Start worker 1 (it seeds the cluster's mocks), then the others; each must print its banner."""
        first, rest = self.workers[0], self.workers[1:]
        self._spawn(first, reset=bool(self.args.cluster_reset))
        self._await_ready([first])
        for worker in rest:
            self._spawn(worker)
        self._await_ready(rest)
        self._running = True

    def _await_ready(self, workers):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not all(worker.ready for worker in workers):
            if {signal.SIGTERM, signal.SIGINT} & set(self._pump(0.2)):
                raise _Interrupted
            for worker in workers:
                status = self._exited(worker)
                if status is not None:  # its error is on stderr already, which it shares with us
                    log.debug("%s %s before it served", worker, _how(status))
                    raise _StartFailed(status if status > 0 else 1)
            if time.monotonic() > deadline:
                log.error("a worker did not start within %g s", STARTUP_TIMEOUT)
                raise _StartFailed(1)

    def banner(self):
        lines = list(self.workers[0].banner)
        where = (f"a private redis-server ({self.redis.socket})" if self.redis is not None
                 else _shown_url(self.cluster_url))
        at = next((i for i, line in enumerate(lines) if READY in line), len(lines))
        pids = ", ".join(str(worker.proc.pid) for worker in self.workers)
        lines[at:at] = [f"  Workers:     {len(self.workers)} (pids {pids}; supervisor {os.getpid()}) sharing "
                        f"{where}", ""]
        return "\n".join(lines)

    def run(self):
        """Supervise until SIGTERM or SIGINT; the exit status."""
        while True:
            due = [worker.restart_at for worker in self.workers if worker.restart_at is not None]
            for signum in self._pump(min([1.0] + [at - time.monotonic() for at in due])):
                if signum in (signal.SIGTERM, signal.SIGINT):
                    log.info("%s: stopping the workers", signal.Signals(signum).name)
                    return 0
                if signum == signal.SIGHUP:
                    self.signal_all(signal.SIGHUP)
            if self.redis is not None and self.redis.proc.poll() is not None:
                log.error("the private redis-server %s: stopping the workers, which no longer share their "
                          "mocks (%s)", _how(self.redis.proc.returncode), self.redis.log_tail())
                return 1
            now = time.monotonic()
            for worker in self.workers:
                if worker.restart_at is not None and now >= worker.restart_at:
                    self._spawn(worker)
                elif worker.restart_at is None and self._exited(worker) is not None:
                    self._schedule_restart(worker, now)

    def _schedule_restart(self, worker, now):
        served = now - worker.started
        worker.failures = 0 if served >= STABLE and worker.ready else worker.failures + 1
        delay = 0.0 if not worker.failures else min(BACKOFF_FIRST * 2 ** (worker.failures - 1), BACKOFF_MAX)
        why = f" in {delay:g} s (died within {STABLE:g} s of starting, {worker.failures}x in a row)" if delay else ""
        log.warning("%s %s after %.1f s; restarting it%s", worker, _how(worker.proc.returncode), served, why)
        worker.restart_at = now + delay

    def signal_all(self, signum):
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is None:
                try:
                    worker.proc.send_signal(signum)
                except ProcessLookupError:
                    pass

    def stop(self):
        """SIGTERM to the workers; kill those still running after STOP_GRACE seconds."""
        self.signal_all(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline and any(self._exited(w) is None for w in self.workers if w.proc):
            self._pump(0.05)
        for worker in self.workers:
            if worker.proc is not None and self._exited(worker) is None:
                log.warning("%s did not stop within %g s: killing it", worker, STOP_GRACE)
                worker.proc.kill()
                worker.proc.wait()
                self._exited(worker)

    # ---- signals

    def __enter__(self):
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        self._wakeup = (read, write)
        self._selector.register(read, selectors.EVENT_READ, None)
        self._old_wakeup = signal.set_wakeup_fd(write)
        self._old_handlers = {signum: signal.signal(signum, lambda signum, _frame: self._signals.append(signum))
                              for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)}
        return self

    def __exit__(self, *exc):
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._old_wakeup)
        self._selector.close()
        for fd in self._wakeup:
            os.close(fd)


def supervise(args):
    """``mockd serve --workers N`` (N in ``args.workers``); the exit status."""
    from .backend.redisserver import PrivateRedis
    from .listen import ListenError, listen_failure, reserve
    from .log import configure_logging
    from .options import CLUSTER_AUTO

    configure_logging(args.log_level, args.log_format)
    reserved, ports = [], [None, None]
    try:
        for index, (listener, host, port) in enumerate([("mock", args.host, args.port),
                                                        ("admin", args.admin_host, args.admin_port)]):
            if listener == "admin" and not args.admin:
                continue
            try:
                sock, ports[index] = reserve(host, port)
            except OSError as exc:
                raise listen_failure(ListenError(listener, host, port, exc)) from None
            reserved.append(sock)
        redis = None
        if args.cluster in (None, CLUSTER_AUTO):
            redis = PrivateRedis()  # MockdError without redis-server
        supervisor = Supervisor(args, args.workers, redis.url if redis else args.cluster, ports)
        supervisor.redis = redis
        try:
            return _supervise(args, supervisor)
        finally:
            if redis is not None:
                redis.stop()
    finally:
        for sock in reserved:
            sock.close()


def _supervise(args, supervisor):
    with supervisor:
        try:
            try:
                supervisor.start()
            except _StartFailed as failed:
                return failed.status
            except _Interrupted:
                return 0
            if args.pid_file:
                write_pid_file(args.pid_file)
            try:
                print(supervisor.banner(), flush=True)
                log.info("supervising %d workers (pids %s)", len(supervisor.workers),
                         ", ".join(str(worker.proc.pid) for worker in supervisor.workers))
                return supervisor.run()
            finally:
                if args.pid_file:
                    remove_pid_file(args.pid_file)
        finally:
            supervisor.stop()
