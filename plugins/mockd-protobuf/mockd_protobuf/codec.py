"""Descriptor sets, and messages to and from bytes and JSON-shaped trees.

Imported only when a config uses protobuf, so that a server that does not pays nothing for
``google.protobuf``. Each descriptor set gets a pool of its own rather than the process-wide
default pool: two servers in one process (a test suite) may load files that define the same
names differently.
"""
import os

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError

from mockd.plugin import ConfigError, check_setting_file, join_where, one_of_hint, read_setting_file

__all__ = ["MAX_DESCRIPTOR_SET", "Codec", "load_codec", "resolve_path"]

MAX_DESCRIPTOR_SET = 16 << 20  # protoc's output for a large API is a few hundred KiB
_cache = {}  # (real path, mtime, size) -> Codec: one parse per file, however many types use it


def resolve_path(path, source):
    """``path`` relative to the config file's folder (``source``), else to the working folder."""
    if os.path.isabs(path):
        return path
    if source and os.path.isfile(source):
        return os.path.join(os.path.dirname(os.path.abspath(source)), path)
    return os.path.abspath(path)


def load_codec(path, source=None, where="plugins.protobuf.descriptorSet"):
    """Return the :class:`Codec` of a ``FileDescriptorSet`` file (``protoc --include_imports
    --descriptor_set_out=FILE``, or ``descriptor_pb2.FileDescriptorSet().SerializeToString()``).

    :raises ConfigError: located at ``where`` when the file is missing, not a regular file,
        larger than :data:`MAX_DESCRIPTOR_SET` or not a descriptor set. The message never
        shows the resolved path: it may reach an admin API client.
    """
    real = os.path.realpath(resolve_path(path, source))
    status = check_setting_file(real, where, MAX_DESCRIPTOR_SET)
    key = (real, status.st_mtime_ns, status.st_size)
    codec = _cache.get(key)
    if codec is None:
        data = read_setting_file(real, where, MAX_DESCRIPTOR_SET)
        try:
            codec = _cache[key] = Codec(descriptor_pb2.FileDescriptorSet.FromString(data), real)
        except (DecodeError, TypeError, KeyError, ValueError) as exc:
            raise ConfigError(f"not a valid FileDescriptorSet ({exc}); write one with protoc --include_imports "
                              f"--descriptor_set_out=FILE", where=where) from None
    return codec


def _message_names(prefix, messages):
    for message in messages:
        name = f"{prefix}{message.name}"
        yield name
        yield from _message_names(f"{name}.", message.nested_type)


def _in_dependency_order(files):
    # The C++/upb pool needs a file's imports before the file; protoc writes them in that
    # order, but a hand-built set need not be.
    by_name = {f.name: f for f in files}
    done, ordered = set(), []

    def visit(proto):
        if proto.name in done:
            return
        done.add(proto.name)
        for dependency in proto.dependency:
            if dependency in by_name:
                visit(by_name[dependency])
        ordered.append(proto)

    for proto in files:
        visit(proto)
    return ordered


def _is_repeated(field):
    repeated = getattr(field, "is_repeated", None)  # protobuf >= 6; ``label`` is gone in 7
    return repeated if repeated is not None else field.label == FieldDescriptor.LABEL_REPEATED


class Codec:
    """The message types of one descriptor set."""

    def __init__(self, file_set, path):
        self.path = path
        self.pool = descriptor_pool.DescriptorPool()
        for proto in _in_dependency_order(file_set.file):
            self.pool.Add(proto)
        self.names = sorted(name for proto in file_set.file for name in
                            _message_names(f"{proto.package}." if proto.package else "", proto.message_type))
        self._classes = {}

    def message_class(self, name, where=None):
        """The generated class of the message type ``name`` (``package.Message``).

        :raises ConfigError: for a name the set does not define, listing those it does.
        """
        cls = self._classes.get(name)
        if cls is None:
            if name not in self.names:
                raise ConfigError(f"unknown protobuf message {name!r} in {os.path.basename(self.path)} "
                                  f"{one_of_hint(name, self.names)}", where=where)
            cls = self._classes[name] = message_factory.GetMessageClass(self.pool.FindMessageTypeByName(name))
        return cls


def decode(message_class, data):
    """Parse ``data``; ``None`` when it is not a valid encoding of that type."""
    try:
        return message_class.FromString(data)
    except DecodeError:
        return None


def to_tree(message):
    """The proto3 JSON form of a message as Python values, with the field names of the
    ``.proto`` file and fields left at their default value included (``0``, ``""``, ``[]``),
    so that a path to an unset field finds its default, as a proto3 reader would."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def encode(message_class, tree):
    """Serialise a JSON-shaped tree (proto or JSON field names) as ``message_class``.

    :raises google.protobuf.json_format.ParseError: for a value the field cannot take.
    """
    return json_format.ParseDict(tree, message_class()).SerializeToString()


def check_tree(descriptor, tree, where):
    """Check at load that every key of ``tree`` names a field of ``descriptor``, recursively.

    :return: the key paths of templated leaves in ``bool`` fields: JSON would want ``true``
        without quotes, but a template renders text, which :func:`coerce_bools` then converts.
    :raises ConfigError: located at the offending key.
    """
    if not isinstance(tree, dict):
        raise ConfigError(f"expected a mapping of the fields of {descriptor.full_name}", where=where)
    templated_bools = []
    for key, value in tree.items():
        field = descriptor.fields_by_name.get(key) or descriptor.fields_by_camelcase_name.get(key)
        at = join_where(where, key)
        if field is None:
            raise ConfigError(f"{descriptor.full_name} has no field {key!r} "
                              f"{one_of_hint(key, descriptor.fields_by_name)}", where=at)
        is_list = _is_repeated(field) and isinstance(value, list)
        for index, item in enumerate(value) if is_list else ((None, value),):
            path, item_at = ((key,), at) if index is None else ((key, index), join_where(at, index))
            nested = field.message_type
            if (nested is not None and isinstance(item, dict) and not nested.GetOptions().map_entry
                    and not nested.full_name.startswith("google.protobuf.")):
                templated_bools += [path + sub for sub in check_tree(nested, item, item_at)]
            elif field.type == FieldDescriptor.TYPE_BOOL and isinstance(item, str):
                if "{{" not in item:
                    raise ConfigError(f"{descriptor.full_name}.{field.name} is a bool: write true or false "
                                      f"without quotes", where=item_at)
                templated_bools.append(path)
    return templated_bools


def coerce_bools(tree, paths):
    """Turn the rendered text ``"true"``/``"false"`` at ``paths`` into booleans, in place.

    Safe on a rendered tree: every container on the way to a templated leaf is a fresh copy.
    """
    for path in paths:
        node = tree
        for key in path[:-1]:
            node = node[key]
        text = node[path[-1]]
        if isinstance(text, str) and text.strip().lower() in ("true", "false"):
            node[path[-1]] = text.strip().lower() == "true"
    return tree
