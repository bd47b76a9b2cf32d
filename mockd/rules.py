"""First-match-wins over an endpoint's matchers without trying every matcher.

Matchers that declare an ``index`` (exact, ASCII prefix, dotted-path json) are grouped: one
key is computed per group and message, and a dict lookup finds the first rule with that key.
The remaining matchers are tried in order, but only those placed before the best indexed hit,
so the result is exactly the linear first-match result.

The regex and real-JSONPath matchers tried for one message share one time budget
(:class:`mockd.budget.Budget`): twenty backtracking rules cost a message 50 ms, not a
second. Only rule sets with such a matcher open one.
"""
from .budget import Budget, budget_scope

_NONE = 1 << 62


class RuleIndex:
    __slots__ = ("rules", "_groups", "_others", "_budgeted")

    def __init__(self, rules):
        self.rules = tuple(rules)
        groups = {}
        others = []
        for position, rule in enumerate(self.rules):
            index = getattr(rule.criteria.match_type, "index", None)
            if index is None:
                others.append((position, rule))
                continue
            group, key = index
            table = groups.setdefault((group, rule.criteria.message_type), {})
            table.setdefault(key, position)  # first rule wins
            if isinstance(key, str):
                table.setdefault(key.encode("utf-8"), position)  # binary payloads compare as bytes
        self._groups = tuple((group, message_type, table) for (group, message_type), table in groups.items())
        self._others = tuple(others)
        self._budgeted = any(getattr(rule.criteria.match_type, "budgeted", False) for rule in self.rules)

    def first_match(self, message, context=None):
        """Return ``(rule, captures)`` for the first rule that matches, or ``(None, None)``."""
        if self._budgeted:
            with budget_scope(Budget()):
                return self._first_match(message, context)
        return self._first_match(message, context)

    def _first_match(self, message, context):
        best = _NONE
        message_type = message.type
        for group, wanted_type, table in self._groups:
            if wanted_type is not None and wanted_type != message_type:
                continue
            key = group.key_of(message)
            if key is not None:
                position = table.get(key, _NONE)
                if position < best:
                    best = position
        for position, rule in self._others:
            if position >= best:
                break
            captures = rule.criteria.test(message, context)
            if captures is not None:
                return rule, captures
        if best != _NONE:
            rule = self.rules[best]
            # Indexed matchers may still capture (a plugin's); ask once, on the winner only.
            captures = rule.criteria.test(message, context)
            if captures is not None:
                return rule, captures
            return self._linear_from(best + 1, message, context)
        return None, None

    def _linear_from(self, start, message, context):
        for rule in self.rules[start:]:
            captures = rule.criteria.test(message, context)
            if captures is not None:
                return rule, captures
        return None, None
