"""Issue 15: the protocol packs plug in through ``mockd_register_protocols`` and nothing else,
as a third-party pack (SignalR, say) would: ``mockd plugins --all`` lists each with that one
hook, the registry holds the four protocols they register, and no module of mockd outside a
pack imports it."""
import ast
import json
import pathlib

from _cli import mockd
from mockd.plugins import Registry, get_plugin_manager

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKS = {"mockd.protocols.graphql_ws": "graphql-transport-ws", "mockd.protocols.socketio": "socket.io",
         "mockd.protocols.stomp": "stomp", "mockd.protocols.mqtt": "mqtt"}


def test_mockd_plugins_lists_each_pack_with_the_protocol_hook_only():
    done = mockd("plugins", "--all", MOCKD_DISABLE_PLUGIN_AUTOLOAD="1")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    for module in PACKS:
        assert rows[module]["hooks"] == ["mockd_register_protocols"], rows[module]


def test_the_packs_register_their_protocols_through_the_hook():
    registry = Registry.from_plugin_manager(get_plugin_manager(load_entrypoints=False))
    for module, protocol in PACKS.items():
        assert protocol in registry.protocols
        assert registry.owner("protocol", protocol) == module


def test_no_module_outside_a_pack_imports_it():
    for path in (ROOT / "mockd").rglob("*.py"):
        relative = path.relative_to(ROOT).with_suffix("")
        own = next((module for module in PACKS if ".".join(relative.parts).startswith(module)), None)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                for module in PACKS:
                    tail = module.rsplit(".", 1)[1]
                    if module != own and (name.startswith(module) or name.lstrip(".").startswith(tail)
                                          and "protocols" in relative.parts[:-1] and own is None):
                        raise AssertionError(f"{relative} imports the pack {module}")
