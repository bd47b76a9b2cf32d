"""``mockd serve --seed N`` (env ``MOCKD_SEED``): random.*, uuid and faker.* replies repeat from
run to run, and the seed in use is logged as ``seed N`` (issue 14, item 5).

The subprocess tests run real ``python -m mockd serve`` processes (``_cli.Serve``: 127.0.0.1,
``-p 0``, always ended) and talk to them with websocket-client.
"""
import random
import re

import pytest
import websocket

from _cli import Serve, mockd
from mockd import randomness
from mockd.templatefuncs import _BUILTINS

TEMPLATE = ("{{random.int 1 1000000}} {{uuid}} {{faker.name}} {{random.string 8}} {{uuid.short}} "
            "{{random}} {{random.element('a', 'b', 'c')}} {{random.float}}")
CONFIG = f"""\
version: "1.0"
mocks:
  - id: dice
    websocket:
      path: /ws
      defaultResponse: {{type: text, value: "{TEMPLATE}"}}
"""
REPLIES = 5
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
SEED_LINE = re.compile(r"^\S+ \S+ INFO mockd\.server: seed (\d+)$", re.MULTILINE)


@pytest.fixture
def config(write_config):
    return write_config(CONFIG)


def run(config, *args, **env):
    """Serve ``config`` with ``args``, collect REPLIES replies on one connection, stop;
    ``(replies, seeds logged)``. MOCKD_SEED is cleared unless given: the caller's own
    environment must not seed these runs."""
    server = Serve("-c", config, "--no-admin", *args, **{"MOCKD_SEED": "", **env})
    try:
        ws = websocket.create_connection(server.url("/ws"), timeout=10)
        try:
            replies = []
            for n in range(REPLIES):
                ws.send(f"roll {n}")
                replies.append(ws.recv())
        finally:
            ws.close(timeout=1)
    finally:
        out, err = server.stop()
    assert server.proc.returncode == 0, (out, err)
    return replies, [int(seed) for seed in SEED_LINE.findall(err)]


@pytest.fixture(scope="module")
def seed_42(tmp_path_factory):
    """The replies of one ``--seed 42`` run, which several tests compare with."""
    path = tmp_path_factory.mktemp("seed") / "mockd.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    replies, seeds = run(path, "--seed", "42")
    assert seeds == [42]
    return replies


@pytest.mark.slow
def test_the_same_seed_gives_the_same_replies(config, seed_42):
    replies, seeds = run(config, "--seed", "42")
    assert seeds == [42]  # logged exactly once, as "seed 42"
    assert replies == seed_42
    number, uuid, *_ = replies[0].split()
    assert 1 <= int(number) <= 1_000_000 and UUID4.fullmatch(uuid)
    assert len(set(replies)) == REPLIES  # repeatable across runs, still random within one


@pytest.mark.slow
def test_mockd_seed_environment_variable_is_the_same_as_the_option(config, seed_42):
    replies, seeds = run(config, MOCKD_SEED="42")
    assert seeds == [42]
    assert replies == seed_42


@pytest.mark.slow
def test_another_seed_gives_other_replies(config, seed_42):
    replies, seeds = run(config, "--seed", "43")
    assert seeds == [43]
    # Every function differs, not just one: each reply's fields are compared one by one
    # (faker.name is two words, so the fields line up from both ends).
    for ours, theirs in zip(replies, seed_42):
        ours, theirs = ours.split(), theirs.split()
        assert ours[:2] != theirs[:2] and ours[-5:-1] != theirs[-5:-1]
    assert replies != seed_42


@pytest.mark.slow
def test_without_a_seed_one_is_picked_logged_and_reproducible(config):
    replies, seeds = run(config)
    assert len(seeds) == 1 and 0 <= seeds[0] < 2**32
    again, logged = run(config, "--seed", str(seeds[0]))
    assert logged == seeds
    assert again == replies


@pytest.mark.slow
def test_a_bad_seed_is_a_usage_error(config):
    result = mockd("serve", "-c", config, "--no-admin", "-p", "0", MOCKD_SEED="twelve")
    assert result.returncode == 2, result
    assert "mockd: error: MOCKD_SEED: not a whole number: 'twelve'" in result.stderr
    result = mockd("serve", "--seed", "-1", MOCKD_SEED="")
    assert result.returncode == 2 and "--seed: must be 0 or more (got -1)" in result.stderr, result


# ---------------------------------------------------------------- in-process


@pytest.fixture
def reseed_randomly():
    """install() is process-global: leave the template functions unpredictable again after."""
    yield
    randomness.install(randomness.resolve_seed(None))


def test_resolve_seed():
    assert randomness.resolve_seed(0) == 0 and randomness.resolve_seed(2**40) == 2**40
    assert randomness.resolve_seed("42") == 42  # MOCKD_SEED, as mockd.cli hands it over
    picked = {randomness.resolve_seed(None) for _ in range(20)}
    assert all(isinstance(seed, int) and 0 <= seed < 2**32 for seed in picked) and len(picked) > 1
    for bad in (-1, "-1", "", "4.2", "0x10", "\u0663", 4.0, True):
        with pytest.raises(ValueError):
            randomness.resolve_seed(bad)


def test_stream_depends_on_the_seed_and_the_name_only():
    def draw(seed, name):
        rng = randomness.stream(seed, name)
        return [rng.getrandbits(64) for _ in range(5)]

    assert draw(7, "faults") == draw(7, "faults")
    assert draw(7, "faults") != draw(7, "templates") != draw(8, "templates")
    assert isinstance(randomness.stream(7, "faults"), random.Random)
    # A str seed is hashed with SHA-512, never hash(): the same in every process (the
    # subprocess tests above check the whole chain across processes).
    assert draw(42, "templates")[0] == 0x38A6D50D76DDF32A


@pytest.mark.usefixtures("reseed_randomly")
def test_install_makes_the_template_functions_repeat():
    names = ("uuid", "uuid.short", "random", "random.int", "random.float", "random.string")

    def draw():
        values = [_BUILTINS[name]() for name in names for _ in range(3)]
        return values + [_BUILTINS["random.element"]("a", "b", "c", "d") for _ in range(8)]

    randomness.install(42)
    first = draw()
    randomness.install(42)
    assert draw() == first
    randomness.install(43)
    assert draw() != first
    assert UUID4.fullmatch(first[0]) and re.fullmatch(r"[0-9a-f]{8}", first[3])


@pytest.mark.usefixtures("reseed_randomly")
def test_install_seeds_faker_whether_built_before_or_after(monkeypatch):
    from mockd import fakerfuncs
    name, email = fakerfuncs.FAKER_FUNCTIONS["faker.name"], fakerfuncs.FAKER_FUNCTIONS["faker.email"]
    monkeypatch.setattr(fakerfuncs, "_faker", None)  # not built yet: seeded when it is
    randomness.install(42)
    first = [name(), email(), name()]
    randomness.install(42)  # built now: seeded in place
    assert [name(), email(), name()] == first
    randomness.install(43)
    assert [name(), email(), name()] != first
