"""The in-process backend: one node, nothing shared."""
import socket

from .node import node_entry
from .base import Backend

__all__ = ["LocalBackend"]


class LocalBackend(Backend):
    def __init__(self, node_id=None):
        self.node_id = node_id or socket.gethostname()
        self._server = None

    def start(self, server):
        self._server = server

    def nodes(self):
        return [node_entry(self._server, self.node_id)] if self._server is not None else []
