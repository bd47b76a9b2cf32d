"""The code's shape, checked: no import cycle in mockd/, no module over 400 lines, and plugins
(the reference plugin, the example plugins, README's examples) use only the public surface."""
import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mockd"
MAX_LINES = 400
#: What a plugin may import from mockd: the package, the plugin API, and the pytest helpers.
PUBLIC = {"mockd", "mockd.plugin", "mockd.testing"}


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(tree, name, is_package, modules):
    """Every mockd module ``tree`` imports, at any depth (imports inside functions too: a cycle
    deferred into a function is still a cycle in the design)."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:  # ``from . import schema`` imports the module mockd.schema
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in modules else target


def import_graph():
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = set(imported_modules(tree, name, path.name == "__init__.py", modules)) & set(modules)
        graph[name] = sorted(targets - {name})
    return graph


def find_cycle(graph):
    visiting, done = [], set()

    def visit(node):
        if node in visiting:
            return visiting[visiting.index(node):] + [node]
        if node in done:
            return None
        visiting.append(node)
        for target in graph[node]:
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_no_import_cycle_in_mockd():
    graph = import_graph()
    assert "mockd.server" in graph and graph["mockd.connection"], "the walk found the modules and their imports"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_only_the_composition_roots_build_the_admin_app():
    """``MockServer`` is handed its admin app: the server's state and lifecycle do not depend on
    Flask, and the admin API can import what it needs from the server side without a cycle."""
    def admin(name):
        return name == "mockd.admin" or name.startswith("mockd.admin.")

    graph = import_graph()
    users = sorted(name for name, targets in graph.items() if not admin(name) and any(map(admin, targets)))
    assert users == ["mockd.bootstrap", "mockd.testing"]


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None


def test_no_module_over_400_lines():
    long = {str(path.relative_to(ROOT)): count for path in PACKAGE.rglob("*.py")
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def mockd_imports(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == "mockd")
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module.split(".")[0] == "mockd":
            yield node.module


PLUGIN_FILES = sorted((ROOT / "plugins").rglob("*.py")) + sorted((ROOT / "tests" / "plugins").glob("*.py"))


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_plugins_import_only_the_public_surface(path):
    private = sorted(set(mockd_imports(path.read_text(encoding="utf-8"))) - PUBLIC)
    assert not private, f"{path.relative_to(ROOT)} imports {private}: use mockd.plugin"


def test_readme_plugin_examples_import_only_the_public_surface():
    readme = (ROOT / "README.rst").read_text(encoding="utf-8")
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", readme)
    imports = set()
    for block in blocks:
        imports.update(mockd_imports("\n".join(line[3:] for line in block.splitlines())))
    assert "mockd.plugin" in imports  # the examples were found
    assert imports <= PUBLIC, f"README examples import {sorted(imports - PUBLIC)}"


def test_the_public_module_exports_what_it_names():
    import mockd.plugin

    assert len(mockd.plugin.__all__) == len(set(mockd.plugin.__all__))
    missing = [name for name in mockd.plugin.__all__ if not hasattr(mockd.plugin, name)]
    assert not missing


#: Documents the developers of mockd had beside the repository, which its users never have. (The
#: RFC 6455 conformance tool that CI lays beside the checkout, shared/tools, is a test input,
#: not a document: tests/test_rfc6455.py says how to provide it.)
OUTSIDE_DOCUMENTS = re.compile(r"\b(?:behaviou?r|contracts|style)\.md\b|\bshared/(?:spec|notes)\b|"
                               r"\bnotes/gevent-websocket\b")
#: The two files that check for such references and so spell them out.
CHECKERS = {"tests/test_structure.py", "tests/test_readme_examples.py"}


def test_nothing_points_at_documents_outside_the_repository():
    paths = [path for folder in ("mockd", "tests", "bench", "plugins", "docs", "etc", "man")
             for path in sorted((ROOT / folder).rglob("*")) if path.is_file() and path.suffix in
             (".py", ".rst", ".md", ".cfg", ".txt", ".1", ".service", ".yaml", "")]
    paths += [ROOT / "README.rst", ROOT / "setup.cfg", ROOT / ".ci" / "run"]
    found = {}
    for path in paths:
        relative = str(path.relative_to(ROOT))
        if relative in CHECKERS or "egg-info" in relative or "__pycache__" in relative or "node_modules" in relative:
            continue
        hits = OUTSIDE_DOCUMENTS.findall(path.read_text(encoding="utf-8", errors="replace"))
        if hits:
            found[relative] = hits
    assert len(paths) > 100, "the walk found the files"
    assert found == {}, f"references to documents this repository does not have: {found}"
