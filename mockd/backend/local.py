"""The in-process backend: one node, nothing shared."""
import socket

from .base import Backend
from .commands import run_command
from .node import node_entry

__all__ = ["LocalBackend"]


class LocalBackend(Backend):
    def __init__(self, node_id=None):
        self.node_id = node_id or socket.gethostname()
        self._server = None

    def start(self, server):
        self._server = server

    def ask(self, op, **args):
        return [run_command(self._server, self.node_id, op, args)]

    def nodes(self):
        return [node_entry(self._server, self.node_id)] if self._server is not None else []
