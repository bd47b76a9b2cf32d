"""Typed errors. The CLI turns them into messages and exit codes in one place."""

#: The most problems one :class:`ConfigError` reports: a file broken everywhere (a wrong
#: indentation repeated in every mock) would otherwise bury the first, most useful ones.
MAX_REPORTED = 20


class MockdError(Exception):
    """Base class of every error mockd raises on purpose."""


class ConfigError(MockdError):
    """A configuration problem, located in a file and at a path inside it.

    ``str(err)`` reads ``mockd.yaml: mocks[2].websocket.path: path must start with /``.

    Validation goes on past the first problem, so one error may stand for several (see
    :meth:`combine`): ``errors`` lists each, located (at most :data:`MAX_REPORTED`; ``omitted``
    counts the rest), ``str(err)`` puts each on its own line, and ``message``, ``source`` and
    ``where`` are those of the first.
    """

    def __init__(self, message, source=None, where=None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.where = where
        self._errors = None
        self.omitted = 0

    @property
    def errors(self):
        """Every problem this error reports, each a single located :class:`ConfigError`."""
        return self._errors or (self,)

    @classmethod
    def combine(cls, errors):
        """One error for ``errors`` (a non-empty iterable of errors, combined ones included)."""
        errors = list(errors)
        leaves = [leaf for error in errors for leaf in error.errors]
        omitted = sum(error.omitted for error in errors) + max(0, len(leaves) - MAX_REPORTED)
        if len(leaves) == 1 and not omitted:
            return leaves[0]
        first = leaves[0]
        combined = cls(first.message, first.source, first.where)
        combined._errors = tuple(leaves[:MAX_REPORTED])
        combined.omitted = omitted
        return combined

    def located(self, source=None, where_prefix=None):
        """Return a copy with a file name and/or an outer path prefix added."""
        if self._errors:
            combined = ConfigError.combine(error.located(source, where_prefix) for error in self._errors)
            combined.omitted = self.omitted
            return combined
        where = self.where
        if where_prefix:
            where = f"{where_prefix}.{where}" if where and not where.startswith("[") else f"{where_prefix}{where or ''}"
        return ConfigError(self.message, source or self.source, where)

    def _line(self):
        return ": ".join([p for p in (self.source, self.where) if p] + [self.message])

    def __str__(self):
        if not self._errors:
            return self._line()
        lines = [error._line() for error in self._errors]
        if self.omitted:
            more = f"{self.omitted} more error{'s' if self.omitted > 1 else ''}"
            lines.append(": ".join(filter(None, [self.source, f"{more} not shown (at most {MAX_REPORTED} "
                                                              f"are reported at once)"])))
        return "\n".join(lines)


class PluginError(MockdError):
    """A plugin is broken: duplicate names, bad registrations, misspelled hooks."""


class MockConflict(MockdError):
    """A mock cannot be added: its id or its path is taken. ``code`` is the API error code
    (``duplicate_id``, ``duplicate_path``): the admin API answers 409 with it."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class UnknownMock(MockdError):
    """No mock has that id: the admin API answers 404."""
