"""The dashboard (issue 17) in a real browser: Chromium, driven by Playwright, on the page that a
real server's admin API serves at /ui/, with real WebSocket clients on the other side. Each test
is one of the issue's "done when" points; together they also write the README's screenshots
(docs/images/dashboard-*.png). The API behind the page is tested on its own in
tests/test_dashboard_api.py.

Chromium and Playwright: see tests/_browser.py (skipped without them, but in CI)."""
import re
import time

import gevent
import gevent.pywsgi
import pytest
import websocket

from _browser import DEMO_CONFIG, PHONE, connection_row, document_width, mock_row, text_frame, ui
from mockd.testing import assert_silent, recv_close, recv_text

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails, in CI) with what to install
    expect = None

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_unhandled_errors")]

DEMO_MOCKS = {"demo-echo": "/ws", "chat-room": "/ws/chat", "stock-ticker": "/ws/stocks"}
TOKEN = "dashboard-s3cret"


def only_connection_id(server):
    listed = server.admin.get("/websocket/connections").json["connections"]
    assert len(listed) == 1, listed
    return listed[0]["id"]


def chat(ws, text):
    """Send ``text`` to the demo's chat room and return its answer."""
    ws.send(text)
    return recv_text(ws)


def test_the_page_of_mockd_serve_lists_the_demo_mocks(served_demo, tabs, ws_client, tmp_path):
    ws_client(served_demo.url("/ws/chat"), subprotocols=["chat"])
    for _ in range(2):
        ws_client(served_demo.url("/ws/stocks"))
    tab = tabs(ui(served_demo))
    page = tab.page
    rows = page.get_by_test_id("mock-row")
    expect(rows).to_have_count(3)
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.mockId)") == list(DEMO_MOCKS)
    for mock_id, path in DEMO_MOCKS.items():
        expect(mock_row(page, mock_id).locator("[data-label=Path]")).to_have_text(path)
        expect(mock_row(page, mock_id).get_by_test_id("mock-toggle")).to_be_checked()
    expect(page.get_by_test_id("mocks-count")).to_have_text("3 mocks")
    expect(page.get_by_test_id("stream-status")).to_have_text("live")
    # the live counts come from the event stream: the clients above, by mock
    expect(mock_row(page, "stock-ticker").get_by_test_id("mock-connections")).to_have_text("2")
    expect(mock_row(page, "chat-room").get_by_test_id("mock-connections")).to_have_text("1")
    expect(mock_row(page, "demo-echo").get_by_test_id("mock-connections")).to_have_text("0")
    tab.screenshot("dashboard-mocks", tmp_path)
    assert tab.problems() == []


def test_the_pages_policy_stops_injected_code_and_the_watch_reports_it(demo, tabs):
    tab = tabs(ui(demo, "#/mocks"))
    expect(tab.page.get_by_test_id("mock-row")).to_have_count(3)
    assert tab.problems() == []
    # what an injected string would do: neither the script nor the style attribute takes effect
    tab.page.evaluate("""() => {
        const script = document.createElement('script');
        script.textContent = 'window.injected = true';
        document.body.append(script);
        document.querySelector('h1').outerHTML = '<h1 style="color: red">Mocks</h1>';
    }""")
    assert tab.page.evaluate("window.injected") is None
    expect(tab.page.locator("h1")).not_to_have_css("color", "rgb(255, 0, 0)")
    tab.page.wait_for_function("window.__watch.csp.length >= 2")  # the reports come as events, a moment later
    violations = tab.problems()
    assert any("script-src" in v for v in violations) and any("style-src" in v for v in violations), violations


def test_a_connection_is_listed_talked_to_and_closed_from_its_page(demo, tabs, ws_client, tmp_path):
    tab = tabs(ui(demo, "#/connections"))
    page = tab.page
    expect(page.get_by_test_id("connections-empty")).to_have_text("No live connections.")
    expect(page.get_by_test_id("stream-status")).to_have_text("live")
    ws = ws_client(demo.url("/ws/chat"), subprotocols=["chat"])
    connected = time.monotonic()
    conn_id = only_connection_id(demo)
    row = connection_row(page, conn_id)
    expect(row).to_be_visible(timeout=2000)
    assert time.monotonic() - connected < 2.0  # pushed by GET /events, not found by a slow poll
    expect(row.locator("[data-label=Mock]")).to_have_text("chat-room")
    expect(row.locator("[data-label=Subprotocol]")).to_have_text("chat")

    assert '"joined"' in chat(ws, '{"type": "join", "username": "ada"}')
    row.get_by_test_id("connection-link").click()
    expect(page).to_have_url(re.compile(f"#/connections/{conn_id}$"))
    expect(page.get_by_test_id("connection-status")).to_have_text("live")
    # the page sends: the client gets it
    page.get_by_test_id("send-input").fill("Hello from the dashboard")
    page.get_by_test_id("send-button").click()
    assert recv_text(ws) == "Hello from the dashboard"
    expect(page.get_by_test_id("send-feedback")).to_have_text("Sent (text)")
    # the client answers: the page shows it, as it shows the mock's replies
    assert chat(ws, "ping") == "pong"
    assert '"message_ack"' in chat(ws, '{"type": "message", "content": "Shipping the dashboard today"}')
    expect(text_frame(page, "inbound", "ping")).to_have_count(1)
    expect(text_frame(page, "outbound", "Hello from the dashboard")).to_have_count(1)
    expect(text_frame(page, "outbound", "pong")).to_have_count(1)
    # JSON is shown pretty-printed
    inbound_json = page.locator('[data-testid="frame-row"][data-direction="inbound"] [data-testid="frame-json"]')
    expect(inbound_json.filter(has_text='"content": "Shipping the dashboard today"')).to_have_count(1)
    expect(page.get_by_test_id("frame-json").filter(has_text='"type": "message_ack"')).to_have_count(1)
    tab.screenshot("dashboard-connection", tmp_path)

    page.get_by_test_id("close-code").fill("4000")
    page.get_by_test_id("close-reason").fill("closed from the dashboard")
    page.get_by_test_id("close-button").click()
    assert recv_close(ws) == (4000, "closed from the dashboard")
    expect(page.get_by_test_id("connection-status")).to_have_text("closed")
    expect(page.get_by_test_id("send-button")).to_be_disabled()
    assert tab.problems() == []


def test_a_broadcast_from_a_mocks_row_reaches_its_clients_only(demo, tabs, ws_client):
    echoes = [ws_client(demo.url("/ws")) for _ in range(2)]
    other = ws_client(demo.url("/ws/chat"), subprotocols=["chat"])
    tab = tabs(ui(demo, "#/mocks"))
    row = mock_row(tab.page, "demo-echo")
    expect(row.get_by_test_id("mock-connections")).to_have_text("2")  # both registered: both are sent to
    row.get_by_test_id("broadcast-input").fill("Deploy at 5 pm")
    row.get_by_test_id("broadcast-button").click()
    expect(row.get_by_test_id("broadcast-result")).to_have_text("sent to 2")
    assert [recv_text(ws) for ws in echoes] == ["Deploy at 5 pm"] * 2
    assert_silent(other)
    assert tab.problems() == []


def test_the_journal_shows_the_frames_exchanged_and_follows_new_ones(demo, tabs, ws_client, tmp_path):
    echo = ws_client(demo.url("/ws"))
    room = ws_client(demo.url("/ws/chat"), subprotocols=["chat"])
    echo.send("hello, echo")
    assert recv_text(echo) == "hello, echo"
    assert '"joined"' in chat(room, '{"type": "join", "username": "ada"}')
    assert chat(room, "ping") == "pong"
    tab = tabs(ui(demo, "#/journal"))
    page = tab.page
    rows = page.get_by_test_id("journal-row")

    def entry(direction, text):
        return page.locator(f'[data-testid="journal-row"][data-direction="{direction}"]', has_text=text)
    expect(entry("inbound", "hello, echo")).to_have_count(1)
    expect(entry("outbound", "hello, echo")).to_have_count(1)
    expect(entry("inbound", '"join"')).to_have_count(1)
    expect(entry("outbound", "Welcome to the chat room!")).to_have_count(1)
    expect(entry("inbound", "ping")).to_have_count(1)
    expect(entry("outbound", "pong")).to_have_count(1)
    # the live tail: a frame exchanged now is added at the top (newest first)
    assert chat(room, "status").startswith("{")
    expect(rows.first).to_have_attribute("data-direction", "outbound")
    expect(rows.first).to_contain_text('"users":42')
    expect(entry("inbound", "status")).to_have_count(1)
    seqs = rows.evaluate_all("rows => rows.map(r => Number(r.dataset.seq))")
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == len(demo.journal)
    # filtered as the API filters: one mock's entries
    page.get_by_test_id("journal-mock").select_option("demo-echo")
    expect(rows).to_have_count(2)
    page.get_by_test_id("journal-mock").select_option("")
    expect(rows).to_have_count(len(seqs))
    tab.screenshot("dashboard-journal", tmp_path)
    assert tab.problems() == []


def test_the_stats_page_charts_the_traffic(demo, tabs, ws_client, tmp_path):
    tab = tabs(ui(demo, "#/stats"))
    page = tab.page
    expect(page.get_by_test_id("stream-status")).to_have_text("live")
    for _ in range(3):
        ws_client(demo.url("/ws/stocks"))  # a price update a second each
    echo = ws_client(demo.url("/ws"))
    stop = []

    def talk():  # about 8 echoed messages a second, in the background while the page is watched
        n = 0
        while not stop:
            n += 1
            echo.send(f"tick {n}")
            echo.recv()
            gevent.sleep(0.12)
    talker = gevent.spawn(talk)
    try:
        # the charts cover what the `stats` events brought since the tab opened
        expect(page.get_by_test_id("stats-note")).to_have_text(re.compile(r"^The last \d\d+ s"), timeout=20000)
        expect(page.get_by_test_id("stats-active")).to_have_text("4")
        expect(page.get_by_test_id("stats-in-rate")).not_to_have_text(re.compile(r"^(–|0)$"))
        expect(page.get_by_test_id("chart-rates").locator("polyline.series-in")).to_have_count(1)
        expect(page.get_by_test_id("chart-rates").locator("polyline.series-out")).to_have_count(1)
        expect(page.get_by_test_id("chart-active").locator("polyline.series-active")).to_have_count(1)
        live_tickers = page.get_by_test_id("stats-by-mock").locator("tr", has_text="stock-ticker").locator("td.num")
        expect(live_tickers).to_have_text("3")
        tab.screenshot("dashboard-stats", tmp_path)
    finally:
        stop.append(True)
        talker.join(timeout=5)
    assert talker.successful()
    assert tab.problems() == []


def test_the_editor_shows_a_validation_error_at_its_line(demo, tabs, ws_client):
    tab = tabs(ui(demo, "#/mocks"))
    page = tab.page
    mock_row(page, "demo-echo").get_by_test_id("mock-edit").click()
    editor = page.get_by_test_id("mock-editor")
    expect(editor).to_have_value(re.compile(r"path: /ws\b"))
    text = editor.input_value().replace("path: /ws", "path: echo")
    path_line = next(n for n, line in enumerate(text.splitlines(), 1) if line.strip().startswith("path:"))
    editor.fill(text)
    page.get_by_test_id("mock-save").click()
    error = page.get_by_test_id("editor-error")
    expect(error).to_have_count(1)
    expect(error).to_have_attribute("data-line", str(path_line))
    expect(error).to_contain_text("path must start with /")
    expect(error).to_contain_text("echo")
    expect(page.get_by_test_id("editor-message")).to_contain_text("websocket.path")
    assert demo.admin.get("/mocks/demo-echo").json["websocket"]["path"] == "/ws"  # nothing saved
    # corrected, it saves, and serves at once
    editor.fill(text.replace("path: echo", "path: /echo"))
    page.get_by_test_id("mock-save").click()
    expect(page.get_by_test_id("mock-editor-panel")).to_have_count(0)
    expect(mock_row(page, "demo-echo").locator("[data-label=Path]")).to_have_text("/echo")
    ws = ws_client(demo.url("/echo"))
    ws.send("moved")
    assert recv_text(ws) == "moved"
    assert tab.problems(400) == []  # the 400 is the refused save


@pytest.mark.parametrize("mock_id", list(DEMO_MOCKS))
def test_the_editor_opens_each_demo_mock_as_yaml(demo, tabs, mock_id):
    tab = tabs(ui(demo, f"#/mocks/edit/{mock_id}"))
    expect(tab.page.get_by_test_id("mock-editor")).to_have_value(re.compile(f"^id: {mock_id}$", re.M))
    expect(tab.page.get_by_test_id("editor-message")).to_be_hidden()
    assert tab.problems() == []


def test_a_mock_toggled_off_closes_its_clients_and_refuses_handshakes(demo, tabs, ws_client):
    live = ws_client(demo.url("/ws/stocks"))
    tab = tabs(ui(demo, "#/mocks"))
    toggle = mock_row(tab.page, "stock-ticker").get_by_test_id("mock-toggle")
    expect(toggle).to_be_checked()
    toggle.click()
    expect(toggle).not_to_be_checked()
    expect(mock_row(tab.page, "stock-ticker")).to_have_class(re.compile(r"\bis-disabled\b"))
    assert recv_close(live)[0] == 1012
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(demo.url("/ws/stocks"), timeout=5)
    assert refused.value.status_code == 404
    assert demo.admin.get("/mocks/stock-ticker").json["enabled"] is False
    toggle.click()
    expect(toggle).to_be_checked()
    ws_client(demo.url("/ws/stocks"))  # serves again
    assert tab.problems() == []


def test_with_an_admin_token_the_page_asks_for_it_once_and_refuses_a_wrong_one(make_mockd_server, tabs):
    server = make_mockd_server(DEMO_CONFIG, admin_token=TOKEN)
    tab = tabs(ui(server, "#/mocks"))
    page = tab.page
    dialog = page.get_by_test_id("token-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#token-error")).to_be_hidden()
    page.get_by_test_id("token-input").fill("not-the-token")
    page.get_by_test_id("token-save").click()
    # refused: asked again, saying so, and nothing shown meanwhile
    expect(page.locator("#token-error")).to_be_visible()
    expect(dialog).to_be_visible()
    expect(page.get_by_test_id("mock-row")).to_have_count(0)
    page.get_by_test_id("token-input").fill(TOKEN)
    page.get_by_test_id("token-save").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("mock-row")).to_have_count(3)
    expect(page.get_by_test_id("stream-status")).to_have_text("live")
    # one prompt for every request made at once, one more after the refusal, then none
    assert tab.watched("tokenPrompts") == 2
    for name in ("connections", "journal", "stats", "mocks"):
        page.get_by_test_id(f"nav-{name}").click()
        expect(page.get_by_test_id(f"nav-{name}")).to_have_attribute("aria-current", "page")
    page.reload()  # the tab keeps the token
    expect(page.get_by_test_id("mock-row")).to_have_count(3)
    expect(page.get_by_test_id("stream-status")).to_have_text("live")
    expect(page.get_by_test_id("token-change")).to_have_text("Forget token")
    assert tab.watched("tokenPrompts") == 0 and dialog.is_hidden()
    assert tab.problems(401) == []


def test_a_page_of_another_origin_gets_nothing_from_the_api(demo, tabs):
    def another_site(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [b"<!doctype html><title>another site</title><p>not mockd</p>"]
    site = gevent.pywsgi.WSGIServer(("127.0.0.1", 0), another_site, log=None)
    site.start()
    try:
        tab = tabs(f"http://127.0.0.1:{site.server_port}/")
        page = tab.page
        attempt = """async ([url, init]) => {
            try {
                const answer = await fetch(url, init);
                return `read ${answer.status}: ${await answer.text()}`;
            } catch (error) {
                return `failed: ${error.message}`;
            }
        }"""
        # reading: the browser keeps the answer from the page (no CORS header), whatever it holds
        got = page.evaluate(attempt, [f"{demo.admin_url}/mocks", {}])
        assert got.startswith("failed:"), got
        # and the guard answered nothing anyway: a no-cors read, whose answer the browser sees
        with page.expect_response(f"{demo.admin_url}/mocks") as answered:
            got = page.evaluate(attempt, [f"{demo.admin_url}/mocks", {"mode": "no-cors"}])
        assert got == "read 0: "  # an opaque answer: nothing to read
        assert answered.value.status == 403  # forbidden_origin (the body of an opaque answer is not kept)
        # writing with a body no preflight guards (text/plain, no-cors): refused the same way
        toggle = f"{demo.admin_url}/mocks/demo-echo/toggle"
        with page.expect_response(toggle) as answered:
            got = page.evaluate(attempt, [toggle, {"method": "POST", "mode": "no-cors", "body": '{"enabled": false}'}])
        assert got == "read 0: "  # an opaque answer: nothing to read
        assert answered.value.status == 403
        assert demo.admin.get("/mocks/demo-echo").json["enabled"] is True
    finally:
        site.stop(timeout=1)


def test_every_page_fits_a_phone_screen(demo, tabs, ws_client, tmp_path):
    ws = ws_client(demo.url("/ws/chat"), subprotocols=["chat"])
    assert '"joined"' in chat(ws, '{"type": "join", "username": "ada"}')
    assert chat(ws, "ping") == "pong"
    conn_id = only_connection_id(demo)
    tab = tabs(ui(demo, "#/mocks"), viewport=PHONE)
    page = tab.page
    # each page with what makes it wide: tables, the editor's YAML, JSON frames, the charts
    for route, shown in (("#/mocks", "mock-row"), ("#/mocks/new", "mock-editor"),
                         ("#/connections", "connection-row"), (f"#/connections/{conn_id}", "frame-row"),
                         ("#/journal", "journal-row"), ("#/stats", "chart-rates"), ("#/mocks", "mock-row")):
        page.goto(ui(demo, route))
        expect(page.get_by_test_id(shown).first).to_be_visible()
        assert document_width(page) <= PHONE["width"], route
    expect(page.get_by_test_id("stream-status")).to_have_text("live")
    tab.screenshot("dashboard-phone", tmp_path)
    assert tab.problems() == []
