"""Topic names and topic filters (MQTT 3.1.1 and 5.0 section 4.7). Pure.

A filter is kept as the tuple of its levels; ``+`` matches one level, ``#`` (last) the
parent level and every level below it. A filter starting with a wildcard does not match a
topic starting with ``$`` (``$SYS/...``: 4.7.2).
"""

from ...schema import excerpt

__all__ = ["filter_problem", "matches", "topic_problem", "levels"]

MAX_BYTES = 65535


def levels(text):
    return tuple(text.split("/"))


def topic_problem(topic):
    """Why ``topic`` cannot be a topic name (one a message is published to), or ``None``."""
    if not topic:
        return "a topic name must not be empty"
    if "+" in topic or "#" in topic:
        return f"a topic name cannot hold the wildcards + or # (got {excerpt(topic)}); they are for filters"
    return _common_problem(topic)


def filter_problem(topic_filter):
    """Why ``topic_filter`` cannot be a subscription's filter, or ``None``."""
    if not topic_filter:
        return "a topic filter must not be empty"
    parts = levels(topic_filter)
    for index, part in enumerate(parts):
        if "#" in part and (part != "#" or index != len(parts) - 1):
            return f"# must be a whole level and the last one (got {excerpt(topic_filter)})"
        if "+" in part and part != "+":
            return f"+ must be a whole level (got {excerpt(topic_filter)})"
    return _common_problem(topic_filter)


def _common_problem(text):
    if "\x00" in text:
        return "a topic must not contain U+0000"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate, from a JSON "\ud800" rendered into a template
        return f"a topic must be UTF-8, and {excerpt(text)} holds a lone surrogate"
    if size > MAX_BYTES:
        return f"a topic holds at most {MAX_BYTES} bytes of UTF-8"
    return None


def matches(filter_levels, topic_levels):
    """Whether a filter (its levels) matches a topic name (its levels)."""
    if filter_levels[0] in ("+", "#") and topic_levels[0].startswith("$"):
        return False
    count = len(filter_levels)
    for index, part in enumerate(filter_levels):
        if part == "#":
            return True  # "a/#" matches "a" too: # stands for the parent level as well
        if index >= len(topic_levels):
            return False
        if part != "+" and part != topic_levels[index]:
            return False
    return count == len(topic_levels)
