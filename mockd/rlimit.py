"""Raising the open-file limit at start-up: every WebSocket client costs one descriptor.

Many systems start processes with a soft ``RLIMIT_NOFILE`` of 1024, which caps a mock server
at about a thousand clients; the hard limit is usually far higher and an unprivileged process
may raise its soft limit up to it.
"""
import logging

log = logging.getLogger("mockd.server")

WANTED = 65536  # enough for the 10,000 concurrent clients mockd is tested with, and then some
LOW = 4096      # below this after raising, the log line is a warning


def raise_open_file_limit(wanted=WANTED):
    """Raise the soft open-file limit towards ``wanted`` (never above the hard limit) and log
    the outcome: info when raised, and a line saying how many clients fit when the limit stays
    below ``wanted`` (a warning when it cannot be raised, or stays below ``LOW``).

    :return: the soft limit in force afterwards, or None where ``resource`` does not exist.
    """
    try:
        import resource
    except ImportError:  # not a POSIX system
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d (%s): at most about %d clients",
                        soft, target, exc, soft - 32)
            return soft
        log.info("open-file limit raised from %d to %d", soft, target)
        soft = target
    if soft != resource.RLIM_INFINITY and soft < wanted:
        # The hard limit caps it: say what that means (a warning when it is really low).
        level = logging.WARNING if soft < LOW else logging.INFO
        log.log(level, "open-file limit is %d (hard limit %s): at most about %d clients; raise it with "
                "'ulimit -n' or LimitNOFILE= in the service unit", soft,
                "unlimited" if hard == resource.RLIM_INFINITY else hard, soft - 32)
    return soft
