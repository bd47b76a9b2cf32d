"""``/recordings``: the sessions proxied mocks kept (``proxy.record: true``), as our JSON
document or as HAR 1.2 (``?format=har``, what Chrome DevTools exports)."""
from flask import Blueprint

from .common import no_content, not_found, query_choice, server

bp = Blueprint("recordings", __name__)


def _recording(recording_id):
    recording = server().recordings.get(recording_id)
    if recording is None:
        raise not_found(f"recording {recording_id!r} not found (it may have been dropped: --max-recordings)")
    return recording


@bp.get("/recordings")
def list_recordings():
    return {"recordings": [recording.summary() for recording in server().recordings]}


@bp.get("/recordings/<recording_id>")
def get_recording(recording_id):
    recording = _recording(recording_id)
    if query_choice("format", ("json", "har")) == "har":
        from ..proxy.har import recordings_to_har
        return recordings_to_har([recording])
    return recording.to_json()


@bp.delete("/recordings/<recording_id>")
def delete_recording(recording_id):
    _recording(recording_id)
    server().recordings.remove(recording_id)
    return no_content()
