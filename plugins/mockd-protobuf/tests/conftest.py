from gevent import monkey

monkey.patch_all()  # first: the server runs in this process, the clients are blocking ones

import pytest  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402

pytest_plugins = ["mockd.testing"]

F = descriptor_pb2.FieldDescriptorProto


def _field(message, name, number, kind, type_name=None, repeated=False):
    field = message.field.add(name=name, number=number, type=kind,
                              label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
    if type_name:
        field.type_name = type_name


def build_file_set():
    """chat.proto importing common.proto, written dependent-first on purpose (protoc writes
    imports first; the plugin must not rely on it)."""
    common = descriptor_pb2.FileDescriptorProto(name="common.proto", package="common", syntax="proto3")
    user = common.message_type.add(name="User")
    _field(user, "name", 1, F.TYPE_STRING)
    _field(user, "age", 2, F.TYPE_INT32)

    chat = descriptor_pb2.FileDescriptorProto(name="chat.proto", package="chat", syntax="proto3",
                                              dependency=["common.proto"])
    color = chat.enum_type.add(name="Color")
    color.value.add(name="RED", number=0)
    color.value.add(name="GREEN", number=1)
    request = chat.message_type.add(name="Request")
    _field(request, "id", 1, F.TYPE_INT64)
    _field(request, "kind", 2, F.TYPE_STRING)
    _field(request, "user", 3, F.TYPE_MESSAGE, ".common.User")
    _field(request, "tags", 4, F.TYPE_STRING, repeated=True)
    _field(request, "urgent", 5, F.TYPE_BOOL)
    _field(request, "color", 6, F.TYPE_ENUM, ".chat.Color")
    reply = chat.message_type.add(name="Reply")
    _field(reply, "id", 1, F.TYPE_INT64)
    _field(reply, "text", 2, F.TYPE_STRING)
    _field(reply, "ok", 3, F.TYPE_BOOL)
    _field(reply, "user", 4, F.TYPE_MESSAGE, ".common.User")
    return descriptor_pb2.FileDescriptorSet(file=[chat, common])


@pytest.fixture(scope="session")
def messages():
    """The test's own classes for the messages (built here, not by the plugin's codec)."""
    file_set = build_file_set()
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_set.file[1])
    pool.Add(file_set.file[0])
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
            for name in ("chat.Request", "chat.Reply", "common.User")}


@pytest.fixture
def descriptor_set(tmp_path):
    """A descriptor set file, as ``protoc --include_imports --descriptor_set_out`` writes it."""
    path = tmp_path / "chat.desc"
    path.write_bytes(build_file_set().SerializeToString())
    return path
