"""WebSocket close codes mockd sends or reads (RFC 6455 §7.4.1 and the IANA registry)."""

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_NO_STATUS = 1005      # never sent: "the close frame had no code"
CLOSE_ABNORMAL = 1006       # never sent: "the connection ended without a close frame"
CLOSE_INVALID_DATA = 1007
CLOSE_POLICY_VIOLATION = 1008   # also sent when a client does not read and its outbound queue is full
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_BAD_GATEWAY = 1014


def valid_close_code(code):
    """True for a code a peer may put in a close frame (RFC 6455 §7.4 and the IANA registry):
    the registered ones but 1004-1006 (reserved, or never on the wire), and the 3000-4999 range
    of libraries and applications."""
    return (CLOSE_NORMAL <= code <= CLOSE_UNSUPPORTED_DATA or CLOSE_INVALID_DATA <= code <= CLOSE_BAD_GATEWAY
            or 3000 <= code <= 4999)


def sendable_close_code(code, lost):
    """The code to put in a close frame for one that was recorded or received: ``code`` when a
    peer may send it, 1000 for none (1005 or None: a close without a code), ``lost`` for one
    that never goes on the wire (1006) or is out of range."""
    if code is None or code == CLOSE_NO_STATUS:
        return CLOSE_NORMAL
    return code if valid_close_code(code) else lost
