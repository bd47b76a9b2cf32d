"""The time budget the regex and real-JSONPath matchers share: per message (the rule index
opens one), per scan of the journal, or per search outside both.

Budgets pass through a context variable rather than arguments: ``match(message, context)`` is
the plugin API, and a budget is per greenlet (each has its own context), so a matcher that
yields cannot hand its budget to another connection.
"""
import contextvars
import time

__all__ = ["Budget", "REGEX_TIME_BUDGET", "budget_scope", "current_budget"]

#: Seconds the budgeted matchers (regex, real JSONPath) of one message may take together, and
#: one search outside of a message's budget. A backtracking pattern such as ``^(a|a)+$`` takes
#: exponential time in the message length, and it runs on the event loop: an overrun is no
#: match, so every other client keeps being served. Per message, not per search: 20 such rules
#: cost 50 ms a message, not a second. A linear search of a 64 KB message takes about a
#: millisecond; staying under the 100 ms of ``--warn-blocking`` keeps an overrun from also
#: being reported as a stall on every message.
REGEX_TIME_BUDGET = 0.05
_monotonic = time.monotonic


class Budget:
    """Time the budgeted matchers may still spend: those of one message (the dispatcher makes
    one per message, see :func:`budget_scope`) or of one scan of the journal.

    The clock starts at the first search that asks, so a message that no budgeted matcher
    looks at never reads it. ``per_search`` caps one search (a long scan still yields between
    entries, so no single search may hold the loop for the whole budget).
    """

    __slots__ = ("seconds", "per_search", "deadline", "name")

    def __init__(self, seconds=REGEX_TIME_BUDGET, per_search=None, name="one message's matchers"):
        self.seconds = seconds
        self.per_search = per_search
        self.deadline = None
        self.name = name  # for the warning: "the 50 ms of <name>"

    def remaining(self):
        """Seconds left (0 or less: none)."""
        now = _monotonic()
        if self.deadline is None:
            self.deadline = now + self.seconds
        left = self.deadline - now
        return left if self.per_search is None or left < self.per_search else self.per_search

    def describe(self, timeout=None):
        """What ran out, for the warning: this budget, or (``timeout`` was the cap) one search."""
        if self.per_search is not None and timeout is not None and timeout >= self.per_search:
            return f"the {self.per_search * 1000:g} ms of one search in {self.name}"
        return f"the {self.seconds * 1000:g} ms of {self.name}"


# The budget of the message (or scan) being matched in this greenlet; each greenlet has its
# own context, so a matcher that yields cannot hand its budget to another connection.
_BUDGET = contextvars.ContextVar("mockd_match_budget", default=None)


class budget_scope:
    """``with budget_scope(Budget(...)):`` the budgeted matchers called inside share it."""

    __slots__ = ("budget", "token")

    def __init__(self, budget):
        self.budget = budget

    def __enter__(self):
        self.token = _BUDGET.set(self.budget)
        return self.budget

    def __exit__(self, *exc_info):
        _BUDGET.reset(self.token)


def current_budget():
    """The :class:`Budget` matchers in this greenlet share now, or ``None``."""
    return _BUDGET.get()
