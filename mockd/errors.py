"""Typed errors. The CLI turns them into messages and exit codes in one place."""


class MockdError(Exception):
    """Base class of every error mockd raises on purpose."""


class ConfigError(MockdError):
    """A configuration problem, located in a file and at a path inside it.

    ``str(err)`` reads ``mockd.yaml: mocks[2].websocket.path: path must start with /``.
    """

    def __init__(self, message, source=None, where=None):
        super().__init__(message)
        self.message = message
        self.source = source
        self.where = where

    def located(self, source=None, where_prefix=None):
        """Return a copy with a file name and/or an outer path prefix added."""
        where = self.where
        if where_prefix:
            where = f"{where_prefix}.{where}" if where and not where.startswith("[") else f"{where_prefix}{where or ''}"
        return ConfigError(self.message, source or self.source, where)

    def __str__(self):
        parts = [p for p in (self.source, self.where) if p]
        return ": ".join(parts + [self.message])


class PluginError(MockdError):
    """A plugin is broken: duplicate names, bad registrations, misspelled hooks."""
