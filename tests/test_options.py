"""``mockd serve``'s options are declared once, in ``mockd.options.ServerOptions``: the parser is
built from the declarations, README.rst's table of them is rendered from them, and the other
places that show a default agree.

Regenerate README's table after changing an option::

    python tests/test_options.py --write
"""
import dataclasses
import pathlib
import re
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.rst"
BEGIN = ".. The options of mockd serve: generated from mockd/options.py by python tests/test_options.py --write\n"
END = ".. End of the generated options\n"
WIDTH = 100  # README's tables fit in 100 columns


def _rst_text(text):
    """Plain text for a table cell: inline markup characters escaped (``https://*.example.com``)."""
    return re.sub(r"([\\*`|])", r"\\\1", text)


def _rows():
    from mockd.options import declarations

    for name, (default, option) in declarations().items():
        flags = "/".join(option.flags) + (f" {option.metavar}" if option.metavar else "")
        shown = option.default_text(default)
        meaning = option.help_text()
        if option.choices:
            meaning += f"; one of {', '.join(option.choices)}"
        yield f"``{flags}``", f"``{shown}``" if shown is not None else "", _rst_text(meaning)


def render_table():
    """README's table of ``mockd serve`` options, as reStructuredText (a simple table)."""
    rows = [("option", "default", "meaning")] + list(_rows())
    first = max(len(row[0]) for row in rows)
    second = max(len(row[1]) for row in rows)
    third = WIDTH - first - second - 4
    border = f"{'=' * first} {'=' * second} {'=' * third}"
    lines = [border]
    for index, (flags, default, meaning) in enumerate(rows):
        wrapped = textwrap.wrap(meaning, third, break_on_hyphens=False) or [""]
        lines.append(f"{flags:<{first}} {default:<{second}} {wrapped[0]}".rstrip())
        lines += [f"{'':<{first}} {'':<{second}} {more}" for more in wrapped[1:]]
        if index == 0:
            lines.append(border)
    return "\n".join(lines + [border]) + "\n"


def readme_table(text):
    """The generated part of README.rst (between the two comments), or None."""
    if BEGIN not in text or END not in text:
        return None
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)].strip("\n") + "\n"


def write_readme():
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + render_table() + "\n" + text[end:], encoding="utf-8")


# ---------------------------------------------------------------- README


def test_readme_table_is_generated_from_the_declarations():
    table = readme_table(README.read_text(encoding="utf-8"))
    assert table is not None, "README.rst lost the comments around its table of mockd serve options"
    assert table == render_table(), "README.rst's options table is stale: run 'python tests/test_options.py --write'"


def test_rendered_table_is_valid_rst_with_a_row_per_option():
    import docutils.core as docutils_core
    from docutils import nodes

    from mockd.options import ServerOptions

    tree = docutils_core.publish_doctree(render_table(), settings_overrides={"halt_level": 2, "report_level": 2})
    rows = list(tree.findall(nodes.row))
    assert len(rows) == 1 + len(dataclasses.fields(ServerOptions))
    cells = {row.children[0].astext(): [" ".join(cell.astext().split()) for cell in row.children[1:]]
             for row in rows}
    assert cells["--admin-allow-origin ORIGIN"][1].startswith("let web pages of ORIGIN (e.g. http://localhost:3000, "
                                                             "or https://*.example.com")
    assert cells["--warn-blocking DURATION"][0] == "100ms"
    assert cells["--admin-token TOKEN"][1].endswith("(env MOCKD_ADMIN_TOKEN)")
    assert cells["--no-admin"] == ["", "do not serve the admin API"]


def test_limits_table_shows_the_options_defaults():
    """The Security section's limits table lists some options with their defaults: the same ones."""
    from mockd.options import declarations

    flags = {flag: option.default_text(default)
             for default, option in declarations().values() for flag in option.flags}
    text = README.read_text(encoding="utf-8")
    limits = text[text.index("**Limits and their defaults.**"):text.index("**Hostile input.**")]
    checked = 0
    for match in re.finditer(r"^``(--[\w-]+)[^`]*``\s+(\S+)", limits, re.M):
        flag, cell = match.groups()
        shown = flags[flag]
        assert cell == shown or shown.startswith(cell + ","), (flag, cell, shown)
        checked += 1
    assert checked >= 4


# ---------------------------------------------------------------- parser


def serve_parser():
    from mockd.cli import get_parser

    return get_parser()._subparsers._group_actions[0].choices["serve"]


def test_parser_defaults_are_the_declared_defaults():
    from mockd.cli import get_parser
    from mockd.options import DEFAULTS, ServerOptions

    assert ServerOptions.from_args(get_parser().parse_args(["serve"])) == DEFAULTS == ServerOptions()
    args = get_parser().parse_args(["serve", "--no-admin", "--admin-allow-host", "a.test", "--admin-allow-host",
                                    "b.test", "--warn-blocking", "off", "-p", "0"])
    options = ServerOptions.from_args(args)
    assert (options.admin, options.admin_allow_hosts, options.warn_blocking, options.port) == \
        (False, ("a.test", "b.test"), 0.0, 0)
    # argparse appends to a copy of its default: another parse starts from the empty default again.
    assert get_parser().parse_args(["serve"]).admin_allow_hosts == []


def test_every_serve_option_is_declared_once():
    """Options of ``serve`` other than the config file and the plugin options are ServerOptions
    fields, and every field is an option: none is added to the parser by hand."""
    from mockd.options import ServerOptions

    dests = {action.dest for action in serve_parser()._actions} - {"help", "config", "plugins_dir",
                                                                    "disable_plugin", "no_plugin_autoload"}
    assert dests == {field.name for field in dataclasses.fields(ServerOptions)}


def test_help_shows_each_default_and_environment_variable_once():
    help_text = re.sub(r"\s+", " ", serve_parser().format_help())
    for text in ("(default: 4280)", "(default: ::)", "(default: 67108864, 64 MiB)", "(default: 100ms)",
                 "(default: 127.0.0.1)", "(env MOCKD_ADMIN_TOKEN)"):
        assert help_text.count(text) == 1, text


def test_check_takes_the_same_message_size_limit():
    from mockd.cli import get_parser

    parse = get_parser().parse_args
    assert parse(["check"]).max_message_size_limit == parse(["serve"]).max_message_size_limit
    with pytest.raises(SystemExit):
        parse(["check", "--max-message-size-limit", "0"])


def test_options_are_frozen_and_checked_by_name():
    from mockd.options import DEFAULTS, ServerOptions

    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.port = 1
    with pytest.raises(TypeError, match="no_such_option"):
        ServerOptions(no_such_option=1)
    assert ServerOptions(admin_allow_origins=["http://localhost:3000"]).admin_allow_origins == \
        ("http://localhost:3000",)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        sys.path.insert(0, str(ROOT))
        write_readme()
        print(f"wrote the options table of {README.relative_to(ROOT)}")
    else:
        sys.exit("usage: python tests/test_options.py --write")
