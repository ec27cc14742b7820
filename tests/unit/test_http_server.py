"""A real `lucine serve` process on 127.0.0.1: SQLite by default, Postgres by DATABASE_URL."""

from __future__ import annotations

import json
import os
import pty
import secrets
import select
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.databases import empty_postgres
from tests.http_server import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    RunningServer,
    free_port,
    lucine_command,
    serve_process,
)

QUESTION = "quanto costa il biglietto?"


@pytest.fixture(scope="module")
def sqlite_server() -> Iterator[RunningServer]:
    """One `lucine serve` on a fresh SQLite data directory for this module."""
    with serve_process() as server:
        yield server


def get(server: RunningServer, path: str, **kwargs: Any) -> httpx.Response:
    """GET ``path`` on the server."""
    return httpx.get(f"{server.url}{path}", timeout=10, **kwargs)


def post(server: RunningServer, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    """POST ``body`` as JSON to ``path`` on the server."""
    return httpx.post(f"{server.url}{path}", json=body, timeout=10, **kwargs)


def check_health(server: RunningServer) -> None:
    """Health is 200 with the database ok and the background jobs running."""
    response = get(server, "/api/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"] == "ok"
    assert body["backgroundJobs"] == "running"
    assert body["schema"]["status"] == "current"
    assert body["schema"]["revision"] == body["schema"]["expected"]
    assert get(server, "/api/health/live").json() == {"status": "ok"}


def check_conversation(server: RunningServer) -> str:
    """A visitor asks, wants a human, gets the ticket form and sends it; returns the ticket id."""
    answer = post(server, "/api/chat", {"message": QUESTION})
    assert answer.status_code == 200, answer.text
    chat = answer.json()
    sid = chat["sessionId"]
    assert len(sid) >= 32
    assert chat["sources"], chat
    assert chat["reply"]
    assert chat["language"] == "it"
    action = post(server, "/api/chat/action", {"sessionId": sid, "action": "request_operator"})
    assert action.status_code == 200, action.text
    assert action.json()["ticketOffered"] is True
    assert action.json()["outcome"] == "no_operator"
    form = {"sessionId": sid, "message": "Richiamatemi", "email": "ada@example.org"}
    ticket = post(server, "/api/chat/ticket", form)
    assert ticket.status_code == 201, ticket.text
    ticket_id = str(ticket.json()["ticketId"])
    assert ticket.json()["status"] == "OPEN"
    poll = get(server, f"/api/chat/poll/{sid}")
    assert poll.status_code == 200
    senders = [m["sender"] for m in poll.json()["messages"]]
    assert senders[:2] == ["USER", "BOT"]
    assert poll.json()["messages"][-1]["metadata"]["kind"] == "ticket_confirmation"
    assert ticket_id in poll.json()["messages"][-1]["message"]
    return ticket_id


def check_admin(server: RunningServer, ticket_id: str | None = None) -> None:
    """The CLI-made admin logs in, is who /me says, sees the ticket, and logs out (revoked)."""
    login = post(
        server, "/api/operators/login", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    me = get(server, "/api/operators/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == ADMIN_USERNAME
    assert me.json()["role"] == "admin"
    assert me.json()["availability"] == "ONLINE"
    if ticket_id is not None:
        ticket = get(server, f"/api/tickets/{ticket_id}", headers=headers)
        assert ticket.status_code == 200, ticket.text
        assert ticket.json()["id"] == ticket_id
    assert post(server, "/api/operators/logout", headers=headers).status_code == 204
    assert get(server, "/api/operators/me", headers=headers).status_code == 401
    wrong = post(server, "/api/operators/login", {"username": ADMIN_USERNAME, "password": "nope"})
    assert wrong.status_code == 401


ODD_IDS = ("x" * 2000, "%27%20OR%201%3D1%20--", "..%2F..%2Fetc%2Fpasswd", "%F0%9F%98%80")


def check_hostile_paths(server: RunningServer, ids: tuple[str, ...] = ODD_IDS) -> None:
    """Odd session ids in the URL are 404 from the real database, never 5xx."""
    for sid in ids:
        response = get(server, f"/api/chat/poll/{sid}")
        assert response.status_code == 404, (sid, response.text)
        assert response.json()["code"] == "not_found"


def check_nul_inputs(server: RunningServer) -> None:
    """Ids and names with a NUL character are refused or unknown (4xx), never a server failure.

    SQLite finds no such row (404, 401); Postgres cannot even hold the text, and the
    adapter turns its refusal into a ValidationError (400).
    """
    path = get(server, "/api/chat/poll/%00abc")
    assert path.status_code in (400, 404), path.text
    written = post(server, "/api/chat", {"message": "ciao", "sessionId": "a\u0000b"})
    assert written.status_code in (400, 404), written.text
    login = post(server, "/api/operators/login", {"username": "ad\u0000min", "password": "x"})
    assert login.status_code in (400, 401), login.text


def wait_for(found: Callable[[], bool], what: str, timeout: float = 10) -> None:
    """Call ``found`` until it is true, failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not found():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)


def post_and_drop(server: RunningServer, body: Any, stored: Callable[[], bool]) -> None:
    """POST ``body`` to /api/chat on a raw socket, then close it unread once ``stored()``."""
    payload = json.dumps(body).encode()
    url = httpx.URL(server.url)
    head = (
        f"POST /api/chat HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port or 80), timeout=10) as dropped:
        dropped.sendall(head.encode() + payload)
        wait_for(stored, "stored message")


def check_retried_once(server: RunningServer, body: Any, sid: str) -> None:
    """Retried (again while ``replyPending``), ``body`` gets its stored reply; it is stored once."""
    retried = post(server, "/api/chat", body)
    for _ in range(200):
        assert retried.status_code == 200, retried.text
        if not retried.json().get("replyPending"):
            break
        time.sleep(0.05)
        retried = post(server, "/api/chat", body)
    messages = get(server, f"/api/chat/poll/{sid}").json()["messages"]
    assert [m["message"] for m in messages].count(body["message"]) == 1, messages
    (asked,) = [m for m in messages if m["message"] == body["message"]]
    (reply,) = [m for m in messages if m["seq"] > asked["seq"]]
    answer = retried.json()
    assert answer["sessionId"] == sid
    assert answer["replyPending"] is False
    assert answer["message"] == reply
    assert answer["reply"] == reply["message"]
    assert reply["sender"] == "BOT"


def check_retry_after_dropped_connection(server: RunningServer) -> None:
    """A message whose response was never read, sent again with its id, is stored once.

    The client writes POST /api/chat on a raw socket and, once the server has stored the
    message, closes the connection without reading a byte of the response; it retries
    with the same clientMessageId (again while ``replyPending``) and gets the stored reply.
    """
    sid = post(server, "/api/chat", {"message": "ciao"}).json()["sessionId"]
    body = {
        "message": "a che ora aprite?",
        "sessionId": sid,
        "clientMessageId": secrets.token_urlsafe(16),
    }

    def stored() -> bool:
        messages = get(server, f"/api/chat/poll/{sid}").json()["messages"]
        return body["message"] in [m["message"] for m in messages]

    post_and_drop(server, body, stored)
    check_retried_once(server, body, sid)


def check_first_message_retry_after_dropped_connection(server: RunningServer) -> None:
    """A chat's first message, its response dropped, resent without sessionId: one chat.

    The client never learnt its chat's id, so the retry is matched by the client message
    id (a UUID) alone; the admin's chat list shows that exactly one chat holds the message.
    """
    login = post(
        server, "/api/operators/login", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    body = {"message": f"a che ora aprite? {secrets.token_hex(4)}", "clientMessageId": str(uuid4())}

    def chats() -> list[str]:
        listed = get(server, "/api/chat-management/active-chats?filter=all", headers=headers)
        assert listed.status_code == 200, listed.text
        return [c["sessionId"] for c in listed.json() if c["lastVisitorMessage"] == body["message"]]

    post_and_drop(server, body, lambda: bool(chats()))
    (sid,) = chats()
    check_retried_once(server, body, sid)
    assert chats() == [sid]
    post(server, "/api/operators/logout", headers=headers)


def check_stop(server: RunningServer) -> None:
    """SIGTERM ends the process within 10 s, cleanly or by the re-raised signal."""
    took = server.stop(timeout=10)
    assert took < 10
    assert server.process.returncode in (0, -signal.SIGTERM), server.output()
    with pytest.raises(httpx.TransportError):
        get(server, "/api/health/live")


def test_health_reports_the_database(sqlite_server: RunningServer) -> None:
    """GET /api/health is 200 with database ok over real HTTP."""
    check_health(sqlite_server)


def test_a_schema_upgraded_by_a_newer_release_takes_the_server_out_of_rotation() -> None:
    """Readiness 503 with schema "ahead" while liveness stays 200; back at head, ready."""
    with serve_process() as server:
        database = server.data_dir / "lucine.sqlite3"
        with sqlite3.connect(database) as conn:
            (ours,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            conn.execute("UPDATE alembic_version SET version_num = 'f00dcafe1234'")
        response = get(server, "/api/health")
        assert response.status_code == 503, response.text
        assert response.json()["schema"] == {
            "status": "ahead",
            "revision": "f00dcafe1234",
            "expected": ours,
        }
        assert get(server, "/api/health/live").status_code == 200
        with sqlite3.connect(database) as conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (ours,))
        check_health(server)


def test_visitor_conversation_ends_in_a_ticket(sqlite_server: RunningServer) -> None:
    """With nobody online a visitor's request for a human offers the form, which makes a ticket."""
    ticket_id = check_conversation(sqlite_server)
    check_admin(sqlite_server, ticket_id)


def test_a_retry_after_a_dropped_connection_is_stored_once(sqlite_server: RunningServer) -> None:
    """A visitor's message retried after its connection dropped is stored and answered once."""
    check_retry_after_dropped_connection(sqlite_server)


def test_a_first_message_retried_after_a_dropped_connection_opens_one_chat(
    sqlite_server: RunningServer,
) -> None:
    """A chat's first message retried after its connection dropped opens and holds one chat."""
    check_first_message_retry_after_dropped_connection(sqlite_server)


def test_admin_from_the_cli_logs_in(sqlite_server: RunningServer) -> None:
    """The admin made by `lucine operator create --admin --password-stdin` logs in and reads /me."""
    check_admin(sqlite_server)


def test_first_admin_created_before_the_first_start_logs_in() -> None:
    """The README's set-up for a service, on a fresh data directory, works in that order.

    `lucine operator create --admin --username admin --password-stdin` runs before
    anything has made the database (it creates and migrates it), then `lucine serve`
    starts on it and that admin logs in.
    """
    with serve_process(admin_first=True) as server:
        check_admin(server)


def test_database_in_the_data_dir_and_no_key_file(sqlite_server: RunningServer) -> None:
    """The SQLite file is in LUCINE_DATA_DIR; with LUCINE_SECRET_KEY set, no secret.key appears."""
    assert (sqlite_server.data_dir / "lucine.sqlite3").is_file()
    assert not (sqlite_server.data_dir / "secret.key").exists()


def test_prints_the_api_docs_url(sqlite_server: RunningServer) -> None:
    """The start banner names the API docs URL, which serves the docs."""
    assert f"API docs:   {sqlite_server.url}/api/docs" in sqlite_server.output()
    assert get(sqlite_server, "/api/docs/openapi.json").json()["info"]["title"] == "Lucine"


def test_hostile_session_ids_are_404(sqlite_server: RunningServer) -> None:
    """Huge, quoted, traversal and emoji ids in the poll URL are 404 on SQLite."""
    check_hostile_paths(sqlite_server)


def test_nul_in_ids_is_not_found_on_sqlite(sqlite_server: RunningServer) -> None:
    """A NUL character in a session id or username is simply unknown on SQLite."""
    check_nul_inputs(sqlite_server)


def test_forwarded_for_is_ignored_without_trusted_proxies(sqlite_server: RunningServer) -> None:
    """By default the real peer (127.0.0.1) is limited whatever X-Forwarded-For says.

    21 posts guarantee 11 in one minute window even if a window ends mid-loop.
    """
    statuses = [
        post(
            sqlite_server,
            "/api/chat/action",
            {"sessionId": "x" * 32, "action": "continue_ai"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        ).status_code
        for n in range(21)
    ]
    assert 429 in statuses
    assert set(statuses) <= {404, 429}


def test_server_logs_are_json_lines(sqlite_server: RunningServer) -> None:
    """After the start banner every line the server writes is one JSON object."""
    lines = sqlite_server.output().splitlines()
    logs = [line for line in lines if line and not line.startswith(("Lucine on", "  "))]
    assert logs
    for line in logs:
        assert isinstance(json.loads(line), dict), line


def test_knowledge_base_and_encoder_load_before_the_first_request(
    sqlite_server: RunningServer,
) -> None:
    """The server is healthy only once the index and the model are loaded (about 2 s)."""
    events = [json.loads(line) for line in sqlite_server.output().splitlines() if "{" in line]
    names = [event["event"] for event in events]
    assert "warmed_up" in names
    assert names.index("warmed_up") < names.index("Application startup complete.")


def test_sigterm_stops_the_server_within_ten_seconds() -> None:
    """A serving process with open database connections exits within 10 s of SIGTERM."""
    with serve_process() as server:
        check_health(server)
        check_admin(server)
        check_stop(server)


def test_on_postgres(postgres_url: str) -> None:
    """The same run on Postgres: health, a ticket, the admin, odd ids, a retry, SIGTERM."""
    empty_postgres(postgres_url)
    with serve_process(database_url=postgres_url, migrate=False) as server:
        check_health(server)
        ticket_id = check_conversation(server)
        check_admin(server, ticket_id)
        check_hostile_paths(server)
        check_retry_after_dropped_connection(server)
        check_first_message_retry_after_dropped_connection(server)
        assert "postgresql+psycopg://" in server.output()
        assert not (server.data_dir / "lucine.sqlite3").exists()
        assert not (server.data_dir / "secret.key").exists()
        check_stop(server)


def test_nul_in_ids_is_not_found_on_postgres(postgres_url: str) -> None:
    """A NUL character in a session id or username is unknown on Postgres too, not a 503."""
    empty_postgres(postgres_url)
    with serve_process(database_url=postgres_url, migrate=False, admin=False) as server:
        check_nul_inputs(server)


class Terminal:
    """The master side of a pseudo-terminal: wait for text, then answer."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.pending = ""
        self.transcript = ""

    def expect(self, wanted: str, timeout: float = 30) -> None:
        """Read until ``wanted`` appears; what follows it stays for the next expect."""
        deadline = time.monotonic() + timeout
        while wanted not in self.pending:
            assert time.monotonic() < deadline, f"no {wanted!r} in {self.transcript!r}"
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                text = os.read(self.master, 4096).decode(errors="replace")
                self.pending += text
                self.transcript += text
        self.pending = self.pending.split(wanted, 1)[1]

    def answer(self, wanted: str, line: str) -> None:
        """Wait for ``wanted``, then type ``line`` and Enter."""
        self.expect(wanted)
        os.write(self.master, line.encode() + b"\n")


def test_first_start_at_a_terminal_creates_the_first_admin(tmp_path: Path) -> None:
    """At a terminal, the first `lucine serve` asks for the first admin, then serves.

    That admin can log in to the dashboard API. A mismatched password is asked again.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUCINE_", "DATABASE_URL"))}
    env |= {"LUCINE_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    master, slave = pty.openpty()
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        lucine_command("serve", "--host", "127.0.0.1", "--port", str(port)),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    terminal = Terminal(master)
    try:
        terminal.answer("Username", "boss")
        terminal.answer("Password", "first passphrase")
        terminal.answer("Again", "another one entirely")
        terminal.expect("differ")
        terminal.answer("Username", "boss")
        terminal.answer("Password", PASSWORD)
        terminal.answer("Again", PASSWORD)
        terminal.expect("Created admin boss")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, terminal.transcript
            time.sleep(0.2)
        login = httpx.post(
            f"{url}/api/operators/login",
            json={"username": "boss", "password": PASSWORD},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        assert login.json()["operator"]["role"] == "admin"
    finally:
        process.terminate()
        process.wait(timeout=15)
        os.close(master)
