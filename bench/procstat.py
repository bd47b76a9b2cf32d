"""Server observation from ``/proc``: CPU time, resident memory and its high-water mark.

A server may be a process tree (a launcher and its worker), so every figure is summed over
the process and its descendants. Only Linux ``/proc`` is read; elsewhere the figures are None.
"""
import os
import resource

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def descendants(pid):
    """PIDs of every child of ``pid``, recursively (empty when /proc is unreadable)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids = [int(kid) for kid in fh.read().split()]
        except OSError:
            continue
        for kid in kids:
            found.append(kid)
            found.extend(descendants(kid))
    return found


def tree(pid):
    return [pid] + descendants(pid)


def _status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pid):
    """Current resident set of the tree, KiB."""
    return sum(_status_kib(member, "VmRSS:") for member in tree(pid))


def hwm_kib(pid):
    """Peak resident set of the tree since start or :func:`reset_hwm`, KiB (VmHWM)."""
    return sum(_status_kib(member, "VmHWM:") for member in tree(pid))


def reset_hwm(pid):
    """Reset VmHWM to the current RSS (``echo 5 > clear_refs``, Linux >= 4.0); False if refused."""
    ok = True
    for member in tree(pid):
        try:
            with open(f"/proc/{member}/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            ok = False
    return ok


def cpu_ticks(pid):
    """utime + stime of the tree, in clock ticks."""
    total = 0
    for member in tree(pid):
        try:
            with open(f"/proc/{member}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def raise_nofile(want=None):
    """Raise this process's soft RLIMIT_NOFILE towards the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if want is None or hard == resource.RLIM_INFINITY else min(hard, want)
    if want is not None and target == resource.RLIM_INFINITY:
        target = want
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def loadavg():
    try:
        with open("/proc/loadavg") as fh:
            return tuple(float(average) for average in fh.read().split()[:3])
    except OSError:
        return None
