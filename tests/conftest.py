from gevent import monkey

monkey.patch_all()

import pytest  # noqa: E402

pytest_plugins = ["mockd.testing"]


@pytest.fixture
def write_config(tmp_path):
    """Write a config text into a file and return its path."""
    def write(text, name="mockd.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return write
