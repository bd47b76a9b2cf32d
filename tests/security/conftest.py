import pytest

from _attack import Target


@pytest.fixture
def target(tmp_path):
    """``target(*args, config=TEXT)``: a started :class:`_attack.Target`, ended at teardown."""
    started = []

    def start(*args, config=None, **env_extra):
        server = Target(*args, config=config, tmp_path=tmp_path, **env_extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
