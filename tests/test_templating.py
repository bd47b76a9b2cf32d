"""Unit tests for mockd.templating: the {{ expr }} grammar (README.rst, "Responses and templates")."""
import json
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pluggy
import pytest

import mockd.hookspecs
import mockd.templatefuncs
import mockd.templating
from mockd.depth import MAX_NESTING
from mockd.errors import ConfigError
from mockd.hookspecs import hookimpl
from mockd.message import Message
from mockd.plugins import Registry
from mockd.templating import RenderContext, compile_template, compile_value, to_text

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FAKER_TYPES = (
    "uuid boolean name firstName lastName email address phone company word words sentence "
    "paragraph username ipv4 ipv6 macAddress userAgent url creditCard creditCardExp cvv "
    "currencyCode currency iban price productName color hexColor ssn passport jobTitle latitude "
    "longitude city state zipCode country slug mimeType fileExtension").split()
BUILTIN_NAMES = [
    "uuid", "uuid.short", "now", "timestamp", "timestamp.unix", "timestamp.unix_ms",
    "timestamp.iso", "random", "random.int", "randomInt", "random.float", "random.string",
    "random.element", "sequence", "upper", "lower", "default",
] + [f"faker.{t}" for t in FAKER_TYPES]


class GreetPlugin:
    @hookimpl
    def mockd_register_template_functions(self):
        return {"greet": lambda who="world": f"hello {to_text(who)}",
                "kind": lambda value: type(value).__name__,
                "boom": lambda: {}["missing"]}


def make_registry(*plugins):
    pm = pluggy.PluginManager("mockd")
    pm.add_hookspecs(mockd.hookspecs)
    pm.register(mockd.templatefuncs)
    for plugin in plugins:
        pm.register(plugin)
    return Registry.from_plugin_manager(pm)


@pytest.fixture(scope="module")
def functions():
    return make_registry().template_functions


@pytest.fixture
def render(functions):
    def render(source, message=None, **ctx):
        if message is not None and not isinstance(message, Message):
            message = Message(message if isinstance(message, (str, bytes)) else json.dumps(message))
        return compile_template(source, functions, "w").render(RenderContext(message, **ctx))
    return render


def config_error(functions, source, where="mocks[0].websocket.defaultResponse.value"):
    with pytest.raises(ConfigError) as info:
        compile_template(source, functions, where)
    assert info.value.where == where
    assert where in str(info.value)
    return str(info.value)


# ---------------------------------------------------------------- registration and compile


def test_hookimpl_registers_every_builtin(functions):
    missing = [name for name in BUILTIN_NAMES if name not in functions]
    assert missing == []
    assert all(callable(f) for f in functions.values())


def test_importing_templating_does_not_import_faker():
    code = "import sys, mockd.templating; print('faker' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         env={"PYTHONPATH": str(root), "PATH": ""}, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_static_template_needs_no_rendering(functions):
    template = compile_template("pong {not a template}", functions)
    assert template.is_static
    assert template.source == "pong {not a template}"
    assert template.render(RenderContext()) == "pong {not a template}"
    assert not compile_template("{{now}}", functions).is_static


def test_functions_are_resolved_at_compile_time(functions):
    table = dict(functions)
    template = compile_template("{{uuid}}", table)
    table["uuid"] = lambda: "replaced"
    assert UUID4.match(template.render(RenderContext()))


def test_plugin_functions_share_the_namespace(render):
    functions = make_registry(GreetPlugin()).template_functions
    ctx = RenderContext(Message('{"who": "ann", "obj": {"a": 1}}'))
    assert compile_template("{{greet}}|{{GREET(message.who)}}", functions).render(ctx) == \
        "hello world|hello ann"
    # arguments arrive evaluated, as the JSON values themselves
    assert compile_template("{{kind(message.obj)}} {{kind(3)}} {{kind('x')}}",
                            functions).render(ctx) == "dict int str"


def test_a_raising_function_propagates():
    # Not rendered as "": the connection closes with 1011 and names the plugin
    # (test_plugins.py::test_a_raising_plugin_template_function_closes_1011).
    functions = make_registry(GreetPlugin()).template_functions
    for source in ("a{{boom}}b", "{{boom}}"):
        with pytest.raises(KeyError):
            compile_template(source, functions).render(RenderContext())


def test_pass_context_functions_get_the_render_context_first():
    @mockd.templating.pass_context
    def where(ctx, suffix=""):
        return f"{ctx.path}{suffix}"

    functions = {"where": where}
    ctx = RenderContext(Message("x"), path="/chat")
    assert compile_template("{{where}} {{where('!')}}", functions).render(ctx) == "/chat /chat!"
    with pytest.raises(ConfigError, match="cannot take 2 argument"):
        compile_template("{{where('a', 'b')}}", functions)


# ---------------------------------------------------------------- message and request paths


def test_message_is_the_payload_text(render):
    assert render("got: {{message}}", "hello") == "got: hello"
    assert render("{{ message }}", '{"a": 1}') == '{"a": 1}'
    assert render("{{request.rawBody}}", "raw text") == "raw text"
    assert render("[{{message}}]") == "[]"


def test_message_with_a_binary_payload_is_decoded(render):
    assert render("{{ message }}", Message(b"caf\xc3\xa9 \xff")) == "café \ufffd"


def test_message_fields(render):
    msg = {"id": 7, "user": {"name": "ann", "tags": ["a", {"k": "deep"}]}, "Name": "upper"}
    assert render("{{message.id}}", msg) == "7"
    assert render("{{message.user.name}}", msg) == "ann"
    assert render("{{message.user.tags.1.k}}", msg) == "deep"
    assert render("{{request.body.user.tags.0}}", msg) == "a"
    assert render("{{Message.Name}}/{{message.name}}", msg) == "upper/"  # fields are case-sensitive
    assert render("{{message.0}}", [["x"], "y"]) == '["x"]'
    assert render("{{message.1}}", [["x"], "y"]) == "y"


def test_missing_fields_render_empty(render):
    msg = {"a": {"b": [1]}, "s": "text"}
    source = ("[{{message.nope}}|{{message.a.b.5}}|{{message.a.b.x}}|{{message.s.len}}"
              "|{{message.a.b.0.c}}]")
    assert render(source, msg) == "[||||]"
    assert render("[{{message.a}}|{{request.body.a}}]", "not json") == "[|]"
    assert render("[{{message.a}}]") == "[]"


@pytest.mark.parametrize("value, text", [
    (42.0, "42"), (42, "42"), (1.5, "1.5"), (0.1, "0.1"), (-3.0, "-3"),
    (1e21, "1000000000000000000000"), (True, "true"), (False, "false"), (None, ""),
    ("x y", "x y"), ("", ""),
    ({"b": 1, "a": [1, "é"]}, '{"a":[1,"é"],"b":1}'), ([], "[]"),
])
def test_field_rendering_rule(render, value, text):
    assert render("{{message.v}}", {"v": value}) == text
    assert to_text(value) == text


def test_request_and_connection_context(render):
    conn = type("Conn", (), {"id": "ws-1"})()
    assert render("{{request.path}}", path="/ws/chat") == "/ws/chat"
    assert render("{{connection.id}}", connection=conn) == "ws-1"
    assert render("[{{connection.id}}]", connection=object()) == "[]"
    assert render("[{{connection.id}}]") == "[]"
    empty = ("[{{request.method}}{{request.query.q}}{{request.header.Authorization}}"
             "{{request.pathParam.id}}{{mtls.cn}}{{mtls.san.dns}}{{request.nothing}}]")
    assert render(empty, "m", path="/p") == "[]"


def test_variables_are_readable(functions):
    ctx = RenderContext(variables={"user": {"id": 5}})
    assert compile_template("{{vars.user.id}}", functions).render(ctx) == "5"
    assert compile_template("[{{vars.user.id}}]", functions).render(RenderContext()) == "[]"


# ---------------------------------------------------------------- built-in functions


def test_uuid(render):
    first, second, short = render("{{uuid}} {{ UUID }} {{uuid.short}}").split()
    assert UUID4.match(first) and UUID4.match(second) and first != second
    assert re.fullmatch(r"[0-9a-f]{8}", short)


def test_now_is_utc_seconds_with_z(render):
    text = render("{{now}}")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text)
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset().total_seconds() == 0
    assert abs(parsed.timestamp() - time.time()) < 5
    assert render("{{NOW}}") in (text, render("{{now}}"))


def test_timestamps(render):
    before = time.time()
    unix, unix2, ms, iso = render("{{timestamp}} {{timestamp.unix}} {{timestamp.unix_ms}} "
                                  "{{timestamp.iso}}").split()
    assert re.fullmatch(r"\d+", unix) and abs(int(unix) - before) < 5
    assert abs(int(unix2) - before) < 5
    assert re.fullmatch(r"\d{13}", ms) and abs(int(ms) / 1000 - before) < 5
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", iso)
    parsed = datetime.fromisoformat(iso)
    assert parsed.tzinfo is not None and abs(parsed.timestamp() - before) < 5
    assert parsed.astimezone(timezone.utc).utcoffset().total_seconds() == 0


def test_random_hex(render):
    assert re.fullmatch(r"[0-9a-f]{8}", render("{{random}}"))


@pytest.mark.parametrize("source", ["{{random.int(1, 3)}}", "{{random.int 1 3}}",
                                    "{{ randomInt( 1 , 3 ) }}", "{{Random.Int(1, 3)}}"])
def test_random_int_range_is_inclusive(functions, source):
    template = compile_template(source, functions)
    seen = {template.render(RenderContext()) for _ in range(300)}
    assert seen == {"1", "2", "3"}


def test_random_int_default_range(functions):
    template = compile_template("{{random.int}}", functions)
    values = [int(template.render(RenderContext())) for _ in range(2000)]
    assert min(values) >= 0 and max(values) <= 100 and len(set(values)) > 50
    assert compile_template("{{random.int(-2, -2)}}", functions).render(None) == "-2"


def test_random_float(render):
    default = render("{{random.float}}")
    assert re.fullmatch(r"0\.\d{6}|1\.000000", default)
    for _ in range(50):
        value = render("{{random.float(10, 20, 2)}}")
        assert re.fullmatch(r"\d+\.\d\d", value) and 10 <= float(value) <= 20
    assert re.fullmatch(r"\d\.\d{6}", render("{{random.float(1, 2)}}"))


def test_random_string(render):
    assert re.fullmatch(r"[A-Za-z0-9]{10}", render("{{random.string}}"))
    assert re.fullmatch(r"[A-Za-z0-9]{4}", render("{{random.string(4)}}"))
    assert render("{{random.string}}") != render("{{random.string}}")


def test_random_element(functions):
    template = compile_template('{{random.element("a", \'b\', "c,d")}}', functions)
    assert {template.render(RenderContext()) for _ in range(300)} == {"a", "b", "c,d"}
    legacy = compile_template("{{random.element x y}}", functions)
    assert {legacy.render(RenderContext()) for _ in range(200)} == {"x", "y"}


def test_sequence_counts_per_name(render):
    name = f"orders-{time.time_ns()}"
    assert [render(f'{{{{sequence("{name}")}}}}') for _ in range(3)] == ["1", "2", "3"]
    other = f"invoices-{time.time_ns()}"
    assert render(f"{{{{sequence('{other}', 100)}}}}-{{{{sequence('{other}', 100)}}}}") == "100-101"
    assert render(f'{{{{sequence("{name}")}}}}') == "4"


def test_sequence_is_thread_safe(functions):
    name = f"threads-{time.time_ns()}"
    template = compile_template(f'{{{{sequence("{name}")}}}}', functions)
    results = []

    def worker():
        results.extend(template.render(RenderContext()) for _ in range(500))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(int, results)) == list(range(1, 4001))


def test_upper_lower_default(render):
    msg = {"name": "Ann", "zero": 0, "empty": ""}
    assert render("{{upper(request.body.name)}} {{lower(message.name)}} {{LOWER('MiXeD')}}", msg) \
        == "ANN ann mixed"
    assert render('{{default(message.nick, "anon")}}|{{default(message.name, "anon")}}', msg) \
        == "anon|Ann"
    assert render("{{default(message.zero, 'x')}}|{{default(message.empty, 'x')}}", msg) == "0|x"
    assert render("{{upper(default(message.nick, 'anon'))}}", msg) == "ANON"
    assert UUID4.match(render("{{lower(uuid)}}"))


@pytest.mark.parametrize("faker_type", FAKER_TYPES)
def test_faker_types_produce_text(render, faker_type):
    value = render(f"{{{{faker.{faker_type}}}}}")
    assert isinstance(value, str) and value.strip()
    assert "\n" not in value or faker_type == "paragraph"
    assert render(f"{{{{FAKER.{faker_type.lower()}}}}}").strip()


def test_faker_words_and_boolean(render):
    assert len(render("{{faker.words(4)}}").split()) == 4
    assert render("{{faker.boolean}}") in ("true", "false")
    assert UUID4.match(render("{{faker.uuid}}"))
    assert re.fullmatch(r"#[0-9a-f]{6}", render("{{faker.hexColor}}"))


# ---------------------------------------------------------------- syntax


def test_whitespace_braces_and_literal_text(render):
    assert render("a {{   message.x   }} b {{message.y}}c", {"x": 1, "y": 2}) == "a 1 b 2c"
    assert render("{{{message.x}}}", {"x": 1}) == "{1}"
    assert render('{"echo":{{message}}}', '{"a":1}') == '{"echo":{"a":1}}'
    assert render("}} {", "m") == "}} {"


def test_string_literals_and_escapes(render):
    assert render('{{ "say \\"hi\\"\\n\\t\\\\ \\u00e9" }}') == 'say "hi"\n\t\\ é'
    assert render("{{ 'it\\'s' }}") == "it's"
    assert render('{{ upper("}} and {{") }}') == "}} AND {{"
    assert render("{{ default(message.x, 'a, b') }}") == "a, b"
    assert render("{{ 42 }}|{{ 1.50 }}") == "42|1.5"


# ---------------------------------------------------------------- errors


def test_unknown_bare_name_is_a_config_error_with_suggestions(functions):
    text = config_error(functions, "id={{uuidd}}")
    assert "uuidd" in text and "did you mean uuid" in text
    assert "did you mean message" in config_error(functions, "{{mesage.id}}")
    assert "faker.firstName" in config_error(functions, "{{faker.firstname_}}")


def test_unknown_function_call_is_a_config_error(functions):
    text = config_error(functions, "{{ nosuch(1) }}")
    assert "unknown template function 'nosuch'" in text and "known:" in text and "uuid" in text
    assert "path, not a function" in config_error(functions, "{{ message.id(1) }}")


@pytest.mark.parametrize("source, fragment", [
    ("hello {{ now", "unclosed '{{'"),
    ('{{ upper("x) }}', "unterminated string"),
    ("{{ }}", "empty expression"),
    ("{{ random.int(1,, 2) }}", "unexpected ','"),
    ("{{ random.int(1 2) }}", "expected ',' or ')'"),
    ("{{ random.int(1, 2 }}", "missing ')'"),
    ("{{ 1abc }}", "unexpected '1abc'"),
    ("{{ '\\q' }}", "unknown escape"),
    ("{{ now ) }}", "unexpected ')'"),
    ("{{ message foo }}", "path, not a function"),
    ("{{ sequence }}", "usage: sequence(name, start=1)"),
    ("{{ upper(1, 2) }}", "cannot take 2 argument"),
    ("{{ uuid(1) }}", "cannot take 1 argument"),
])
def test_syntax_errors_are_located_and_explained(functions, source, fragment):
    assert fragment in config_error(functions, source)


def test_non_string_template_is_rejected(functions):
    with pytest.raises(ConfigError, match="must be a string"):
        compile_template(42, functions, "x.value")


# ---------------------------------------------------------------- json trees


def test_compile_value_static_tree_is_returned_as_is(functions):
    tree = {"type": "pong", "n": [1, 2.5, True, None], "nested": {"k": "v"}}
    compiled = compile_value(tree, functions, "r.value")
    assert compiled.is_static
    assert compiled.render(RenderContext()) is tree


def test_compile_value_renders_string_leaves_only(functions):
    tree = {"id": "{{uuid}}", "ts": "{{timestamp}}", "data": {"items": [1, "{{message.n}}", "x"]},
            "{{message}}": "key", "n": 3, "ok": True}
    compiled = compile_value(tree, functions, "r.value")
    assert not compiled.is_static
    out = compiled.render(RenderContext(Message('{"n": 9}')))
    assert list(out) == list(tree)  # key order kept; keys are not templated
    assert UUID4.match(out["id"])
    assert isinstance(out["ts"], str) and out["ts"].isdigit()  # stays a JSON string
    assert out["data"]["items"] == [1, "9", "x"]
    assert out["{{message}}"] == "key" and out["n"] == 3 and out["ok"] is True
    assert tree["data"]["items"][1] == "{{message.n}}"  # the config tree is untouched


def test_compile_value_output_is_always_valid_json(functions):
    compiled = compile_value({"echo": "{{message}}", "list": ["<{{message.q}}>"]}, functions)
    payload = '{"q": "a \\"quoted\\"\\nline"}'
    out = compiled.render(RenderContext(Message(payload)))
    decoded = json.loads(json.dumps(out))
    assert decoded == {"echo": payload, "list": ['<a "quoted"\nline>']}
    string_root = compile_value("say {{message}}", functions)
    assert json.loads(json.dumps(string_root.render(RenderContext(Message('"x"'))))) == 'say "x"'


def test_compile_value_errors_point_at_the_leaf(functions):
    tree = {"data": {"items": ["ok", "{{now}}", "{{uuidd}}"]}}
    with pytest.raises(ConfigError) as info:
        compile_value(tree, functions, "mocks[0].websocket.matchers[1].response.value")
    assert info.value.where == "mocks[0].websocket.matchers[1].response.value.data.items[2]"
    assert "did you mean uuid" in str(info.value)


def test_compile_value_rejects_non_json_leaves(functions):
    with pytest.raises(ConfigError) as info:
        compile_value({"when": datetime(2024, 1, 1)}, functions, "v")
    assert info.value.where == "v.when" and "quote it" in str(info.value)


# ---------------------------------------------------------------- hostile input (issue 10)


@pytest.fixture
def small_sequence_table(monkeypatch):
    monkeypatch.setattr(mockd.templatefuncs, "MAX_SEQUENCES", 4)
    monkeypatch.setattr(mockd.templatefuncs, "_KEEP_ORDER_ABOVE", 2)
    mockd.templating.reset_sequences()
    yield
    mockd.templating.reset_sequences()


def test_the_sequence_table_forgets_the_least_recently_used_name(render, small_sequence_table):
    def seq(name):
        return render("{{sequence(message.name)}}", {"name": name})

    assert [seq(n) for n in "abcd"] == ["1"] * 4
    assert seq("a") == "2"  # past half full, a hit makes "a" the most recently used
    assert seq("e") == "1"  # the table is full: "b", the least recently used, goes
    assert len(mockd.templatefuncs._sequences) == 4
    assert (seq("a"), seq("c"), seq("b")) == ("3", "2", "1")  # "b" starts over


def test_long_sequence_names_are_kept_as_a_digest(render, small_sequence_table):
    long_a, long_b = "a" * 70_000, "a" * 69_999 + "b"
    assert [render("{{sequence(message.n)}}", {"n": n}) for n in (long_a, long_b, long_a)] == ["1", "1", "2"]
    assert all(len(key) <= mockd.templatefuncs.MAX_SEQUENCE_NAME for key in mockd.templatefuncs._sequences)
    assert render('{{sequence(message.n)}}', {"n": "\ud800" * 300}) == "1"  # hashable too


def test_calls_nested_too_deeply_are_a_config_error(functions):
    def nested(depth):
        return "{{" + "upper(" * depth + "'a'" + ")" * depth + "}}"
    assert compile_template(nested(32), functions).render(RenderContext()) == "A"
    error = config_error(functions, nested(33))
    assert "nested too deeply" in error
    assert len(config_error(functions, nested(3000))) < 400  # quoted cut, not 21,000 characters


@pytest.mark.parametrize("source", ["a \ud800 b", "{{message}}\udfff", '{{upper("\\ud800")}}',
                                    '{{default(message.x, "\\udc00\\ud83d")}}'])
def test_a_lone_surrogate_in_a_template_is_a_config_error(functions, source):
    assert "lone UTF-16 surrogate" in config_error(functions, source)


def test_a_surrogate_pair_in_a_template_is_its_character(render):
    assert render("\ud83d\ude00 {{message}}", "hi") == "\U0001F600 hi"  # as PyYAML reads "\ud83d\ude00"
    assert render('{{upper("\\ud83d\\ude00x")}}') == "\U0001F600X"


def test_a_lone_surrogate_from_a_clients_json_renders(render):
    # Sending it is Connection.send's business (U+FFFD); rendering must not fail.
    assert render("{{message.x}}", '{"x": "\\ud800"}') == "\ud800"


def test_recursive_descent_is_no_template_path(functions):
    assert "unexpected" in config_error(functions, "{{message..x}}")


def test_too_deep_json_renders_as_no_json(render):
    def message(depth):  # the object is one level, its "y" the others
        return '{"x": "here", "y": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    assert render("[{{message.x}}]", message(MAX_NESTING + 1)) == "[]"
    assert render("[{{message.x}}]", message(MAX_NESTING)) == "[here]"


def test_compile_value_too_deep_for_recursion_is_a_config_error(functions):
    tree = "{{uuid}}"
    for _ in range(5000):
        tree = {"a": tree}
    with pytest.raises(ConfigError, match="nested too deeply") as info:
        compile_value(tree, functions, "r.value")
    assert info.value.where == "r.value"


def test_a_protocol_adds_template_roots_read_from_the_render_contexts_variables(functions):
    """Build.template/value(roots=...): the names a protocol pack adds ({{variables.user}},
    {{topic.1}}), typo'd ones refused at load with a did-you-mean, never callable."""
    roots = ("variables", "operationName", "topic")
    template = compile_template("hi {{variables.user}} on {{operationName}} for {{topic.1}}", functions, "x", roots)
    context = RenderContext(None, "/p", None, {"variables": {"user": "ann"}, "operationName": "Op",
                                               "topic": ["devices", "42"]})
    assert template.render(context) == "hi ann on Op for 42"
    assert compile_value({"a": ["{{topic.0}}"]}, functions, "x", roots).render(context) == {"a": ["devices"]}
    with pytest.raises(ConfigError, match="did you mean variables"):
        compile_template("{{variablez.user}}", functions, "x", roots)
    with pytest.raises(ConfigError, match="is a path, not a function"):
        compile_template("{{topic(1)}}", functions, "x", roots)
    with pytest.raises(ConfigError, match="unknown template name 'topic.1'"):
        compile_template("{{topic.1}}", functions, "x")  # no such root without the protocol
