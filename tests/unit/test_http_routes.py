"""Every route over HTTP, on the in-memory and SQLite adapters (the whole walk on Postgres too)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import attrs
import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from lucine_adapters.kb import sample_kb
from lucine_adapters.sql.database import SqlDatabase, make_engine, sqlite_url
from lucine_adapters.sql.kb import SqlKnowledgeBase
from lucine_adapters.system import FixedClock
from lucine_core.enums import Role
from lucine_core.services import Services
from lucine_http.app import create_app
from tests.conftest import PASSWORD, make_operator
from tests.databases import TABLES

Headers = dict[str, str]


@attrs.define
class Api:
    """A test client over manual-assignment services, with helpers to set the scene."""

    client: TestClient[Any]
    services: Services

    def run(self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any) -> Any:
        """Run a use case on the app's own event loop."""
        return self.client.blocking_portal.call(functools.partial(fn, *args, **kwargs))

    def login(self, username: str) -> Headers:
        """Log in over HTTP and return the Authorization header."""
        response = self.client.post(
            "/api/operators/login", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def operator(self, username: str, *, role: Role = Role.OPERATOR) -> tuple[str, Headers]:
        """Create an operator, log them in (they go ONLINE) and return id and header."""
        operator_id = self.run(make_operator, self.services, username, role=role)
        return operator_id, self.login(username)

    def visitor_chat(self, text: str = "quanto costa il biglietto?") -> str:
        """A visitor starts a chat; returns its session id."""
        response = self.client.post("/api/chat", json={"message": text})
        assert response.status_code == 200, response.text
        return str(response.json()["sessionId"])

    def held_chat(self, headers: Headers) -> str:
        """A new chat taken by the operator of ``headers``."""
        sid = self.visitor_chat()
        taken = self.client.post(
            "/api/operators/take-chat", json={"sessionId": sid}, headers=headers
        )
        assert taken.status_code == 200, taken.text
        return sid

    def ticket(self, headers: Headers, **fields: Any) -> dict[str, Any]:
        """An operator opens a ticket by hand."""
        body = {
            "subject": "Richiamare",
            "description": "Ha telefonato per un cambio data",
            "priority": "HIGH",
            "email": "Ada@Example.org",
        } | fields
        response = self.client.post("/api/tickets", json=body, headers=headers)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


def manual(services: Services) -> Services:
    """The same services with automatic assignment off (operators take chats by hand)."""
    return attrs.evolve(services, policies=attrs.evolve(services.policies, auto_assign=False))


@contextmanager
def open_api(kind: str, services: Services, request: pytest.FixtureRequest) -> Iterator[Api]:
    """The HTTP app over manual-assignment services stored in memory, SQLite or Postgres."""
    services = manual(services)
    database: SqlDatabase | None = None
    if kind == "sqlite":
        folder = request.getfixturevalue("tmp_path")
        database = SqlDatabase(make_engine(sqlite_url(folder / "routes.sqlite3")))
    elif kind == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        database = SqlDatabase(make_engine(url, pool_size=5))
    if database is not None:
        kb = SqlKnowledgeBase(database.engine, sample_kb(), refresh_seconds=0)
        services = attrs.evolve(services, uow=database, kb=kb)
    with TestClient(create_app(services)) as client:
        if database is not None:
            # The engine's connections belong to the app's event loop: set up there.
            client.blocking_portal.call(_prepare, database)
        try:
            yield Api(client=client, services=services)
        finally:
            if database is not None:
                client.blocking_portal.call(database.dispose)


async def _prepare(database: SqlDatabase) -> None:
    if database.dialect == "sqlite":
        await database.create_schema()
        return
    async with database.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY"))


@pytest.fixture(params=["memory", "sqlite"])
def api(services: Services, request: pytest.FixtureRequest) -> Iterator[Api]:
    """The HTTP app on the in-memory and on the SQLite adapters."""
    with open_api(request.param, services, request) as opened:
        yield opened


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_api(services: Services, request: pytest.FixtureRequest) -> Iterator[Api]:
    """The HTTP app on every adapter, Postgres included."""
    with open_api(request.param, services, request) as opened:
        yield opened


def field_of(body: dict[str, Any]) -> str:
    """The input field a 400 body names (domain and framework errors alike)."""
    details = body.get("details")
    if isinstance(details, dict):
        return str(details["field"])
    assert isinstance(details, list), body
    return ",".join(str(d["field"]) for d in details)


def assert_bad(response: Any, field: str) -> None:
    """A 400 naming ``field``."""
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_input"
    assert field in field_of(response.json())


SID = "s" * 22
Route = tuple[str, str, dict[str, Any] | None]
OPERATOR_ROUTES: list[Route] = [
    ("POST", "/api/chat-management/update-status", {"sessionId": SID, "status": "RESOLVED"}),
    ("POST", "/api/chat-management/add-note", {"sessionId": SID, "content": "x"}),
    ("GET", f"/api/chat-management/history/{SID}", None),
    ("GET", "/api/chat-management/active-chats", None),
    (
        "POST",
        "/api/chat-management/create-ticket",
        {"sessionId": SID, "subject": "s", "description": "d"},
    ),
    ("POST", "/api/chat-management/transfer", {"sessionId": SID, "toOperatorId": "x"}),
    ("POST", "/api/chat-management/hand-back", {"sessionId": SID}),
    (
        "POST",
        "/api/tickets",
        {"subject": "s", "description": "d", "priority": "LOW", "email": "a@b.it"},
    ),
    ("GET", "/api/tickets", None),
    ("GET", "/api/tickets/ABC", None),
    ("PATCH", "/api/tickets/ABC", {"status": "CLOSED"}),
    ("GET", "/api/analytics/stats", None),
    ("GET", "/api/analytics/events", None),
    ("GET", "/api/analytics/daily", None),
    ("GET", "/api/kb", None),
    ("GET", "/api/kb/orari", None),
    ("POST", "/api/kb/try", {"question": "a che ora aprite?"}),
    ("GET", "/api/kb/gaps", None),
]
KB_ITEM = {"question": "Si può pattinare?", "answer": "Sì, sulla pista.", "keywords": ["pista"]}
# Routes every operator reaches but only an admin may use (the use case says 403).
KB_ADMIN_ROUTES: list[Route] = [
    ("POST", "/api/kb", {"id": "pattinaggio", **KB_ITEM}),
    ("PUT", "/api/kb/orari", KB_ITEM),
    ("DELETE", "/api/kb/orari", None),
]
ADMIN_ROUTES: list[Route] = [
    ("GET", "/api/admin/operators", None),
    (
        "POST",
        "/api/admin/operators",
        {"username": "eve", "displayName": "Eve", "password": PASSWORD},
    ),
    ("PATCH", "/api/admin/operators/x", {"capacity": 5}),
    ("GET", "/api/admin/audit", None),
    ("GET", f"/api/admin/privacy/sessions/{SID}", None),
    ("DELETE", f"/api/admin/privacy/sessions/{SID}", None),
    ("POST", "/api/admin/privacy/contacts/export", {"email": "a@b.it"}),
    ("POST", "/api/admin/privacy/contacts/erase", {"email": "a@b.it"}),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), OPERATOR_ROUTES + ADMIN_ROUTES + KB_ADMIN_ROUTES
)
def test_every_route_needs_a_token(api: Api, method: str, path: str, body: Any) -> None:
    """Without a bearer token every operator and admin route answers 401 in the JSON shape."""
    response = api.client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES + KB_ADMIN_ROUTES)
def test_admin_routes_refuse_operators(api: Api, method: str, path: str, body: Any) -> None:
    """A valid token of a plain operator gets 403 from every admin route."""
    _, ada = api.operator("ada")
    response = api.client.request(method, path, json=body, headers=ada)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_a_bad_token_is_401(api: Api) -> None:
    """A made-up bearer token is refused like a missing one."""
    response = api.client.get("/api/tickets", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401


def test_openapi_lists_every_route(api: Api) -> None:
    """The generated OpenAPI document has each added path with its methods."""
    paths = api.client.get("/api/docs/openapi.json").json()["paths"]
    for method, path, _ in OPERATOR_ROUTES + ADMIN_ROUTES + KB_ADMIN_ROUTES:
        template = path.replace(SID, "{session_id}").replace("/ABC", "/{ticket_id}")
        template = template.replace("/kb/orari", "/kb/{item_id}")
        template = template.replace("/operators/x", "/operators/{operator_id}")
        assert method.lower() in paths[template.rstrip("/")], template


# --- retried messages (clientMessageId) ----------------------------------------------

BAD_CLIENT_IDS = ["", "a" * 65, "with space", "ünï", "a/b", "tail\n", 42]


def stored_texts(api: Api, sid: str) -> list[str]:
    """The texts of every message of the chat, in order."""
    return [m["message"] for m in api.client.get(f"/api/chat/poll/{sid}").json()["messages"]]


@pytest.mark.parametrize("bad", BAD_CLIENT_IDS)
def test_chat_refuses_a_malformed_client_message_id(api: Api, bad: object) -> None:
    """A clientMessageId that is not 1-64 of A-Za-z0-9_- is a 400 naming it; nothing is stored."""
    sid = api.visitor_chat()
    before = stored_texts(api, sid)
    body = {"message": "ciao", "sessionId": sid, "clientMessageId": bad}
    assert_bad(api.client.post("/api/chat", json=body), "clientMessageId")
    assert stored_texts(api, sid) == before


@pytest.mark.parametrize("bad", BAD_CLIENT_IDS)
def test_send_message_refuses_a_malformed_client_message_id(api: Api, bad: object) -> None:
    """The operator's send-message refuses a bad clientMessageId with a 400; nothing is stored."""
    _, ada = api.operator("ada")
    sid = api.held_chat(ada)
    before = stored_texts(api, sid)
    body = {"sessionId": sid, "message": "Eccomi", "clientMessageId": bad}
    response = api.client.post("/api/operators/send-message", json=body, headers=ada)
    assert_bad(response, "clientMessageId")
    assert stored_texts(api, sid) == before


def test_a_retried_chat_message_gets_the_same_answer_and_is_stored_once(api: Api) -> None:
    """POST /api/chat again with the same clientMessageId: the same body, one stored message."""
    sid = api.visitor_chat()
    body = {"message": "a che ora aprite?", "sessionId": sid, "clientMessageId": "m-1"}
    first = api.client.post("/api/chat", json=body)
    assert first.status_code == 200, first.text
    assert first.json()["reply"]
    again = api.client.post("/api/chat", json=body)
    assert again.status_code == 200, again.text
    texts = stored_texts(api, sid)
    assert texts.count("a che ora aprite?") == 1
    assert texts.count(first.json()["reply"]) == 1
    assert again.json() == first.json()
    assert first.json()["replyPending"] is False


def test_a_retried_first_message_lands_in_the_chat_it_opened(api: Api) -> None:
    """A chat's first message resent without sessionId (a UUID id): the same body, one chat."""
    body = {"message": "a che ora aprite?", "clientMessageId": str(uuid.uuid4())}
    first = api.client.post("/api/chat", json=body)
    assert first.status_code == 200, first.text
    again = api.client.post("/api/chat", json=body)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    sid = first.json()["sessionId"]
    assert stored_texts(api, sid) == ["a che ora aprite?", first.json()["reply"]]
    other = api.client.post("/api/chat", json=body | {"message": "ciao"})
    assert other.status_code == 409, other.text


def test_a_retried_operator_message_returns_it_and_is_stored_once(api: Api) -> None:
    """send-message again with the same clientMessageId: the same 201 body, one stored message."""
    _, ada = api.operator("ada")
    sid = api.held_chat(ada)
    body = {"sessionId": sid, "message": "Eccomi", "clientMessageId": "o-1"}
    first = api.client.post("/api/operators/send-message", json=body, headers=ada)
    assert first.status_code == 201, first.text
    again = api.client.post("/api/operators/send-message", json=body, headers=ada)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert stored_texts(api, sid).count("Eccomi") == 1


def test_a_client_message_id_reused_for_another_text_is_409(api: Api) -> None:
    """The same clientMessageId with a different message is a 409 and stores nothing."""
    sid = api.visitor_chat()
    sent = {"message": "prima", "sessionId": sid, "clientMessageId": "m-2"}
    assert api.client.post("/api/chat", json=sent).status_code == 200
    before = stored_texts(api, sid)
    reused = api.client.post("/api/chat", json=sent | {"message": "dopo"})
    assert reused.status_code == 409, reused.text
    assert reused.json()["code"] == "conflict"
    assert stored_texts(api, sid) == before


def test_openapi_describes_client_message_ids(api: Api) -> None:
    """/api/docs documents clientMessageId on both bodies and replyPending on the reply."""
    schemas = api.client.get("/api/docs/openapi.json").json()["components"]["schemas"]
    for body in ("ChatIn", "SendIn"):
        field = schemas[body]["properties"]["clientMessageId"]
        assert field["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
        assert "same id" in field["description"]
        assert "clientMessageId" not in schemas[body].get("required", [])
    assert "retried" in schemas["ChatOut"]["properties"]["replyPending"]["description"]


# --- /api/chat-management -------------------------------------------------------------


def test_update_status_closes_the_chat_and_keeps_the_notes(api: Api) -> None:
    """RESOLVED closes the held chat, returns the system message and stores notes internally."""
    _, ada = api.operator("ada")
    sid = api.held_chat(ada)
    response = api.client.post(
        "/api/chat-management/update-status",
        json={"sessionId": sid, "status": "RESOLVED", "notes": "Risolto al telefono"},
        headers=ada,
    )
    assert response.status_code == 200, response.text
    assert response.json()["sender"] == "SYSTEM"
    history = api.client.get(f"/api/chat-management/history/{sid}", headers=ada).json()
    assert history["session"]["status"] == "RESOLVED"
    assert [n["content"] for n in history["internalNotes"]] == ["Risolto al telefono"]


def test_update_status_refuses_a_status_that_does_not_close(api: Api) -> None:
    """WITH_OPERATOR is neither a closing status nor ACTIVE: 400 naming status."""
    _, ada = api.operator("ada")
    sid = api.held_chat(ada)
    response = api.client.post(
        "/api/chat-management/update-status",
        json={"sessionId": sid, "status": "WITH_OPERATOR"},
        headers=ada,
    )
    assert_bad(response, "status")
    unknown = api.client.post(
        "/api/chat-management/update-status",
        json={"sessionId": sid, "status": "DONE"},
        headers=ada,
    )
    assert_bad(unknown, "status")


def test_update_status_active_hands_the_chat_back(api: Api) -> None:
    """ACTIVE is v2.7's hand back: the chat returns to the assistant."""
    _, ada = api.operator("ada")
    sid = api.held_chat(ada)
    response = api.client.post(
        "/api/chat-management/update-status",
        json={"sessionId": sid, "status": "ACTIVE"},
        headers=ada,
    )
    assert response.status_code == 200, response.text
    polled = api.client.get(f"/api/chat/poll/{sid}").json()
    assert polled["sessionStatus"] == "ACTIVE"
    assert polled["operator"] is None


def test_closing_a_chat_nobody_holds_is_409(api: Api) -> None:
    """An admin closing a chat that is with the assistant is an illegal transition."""
    _, root = api.operator("root", role=Role.ADMIN)
    sid = api.visitor_chat()
    response = api.client.post(
        "/api/chat-management/update-status",
        json={"sessionId": sid, "status": "RESOLVED"},
        headers=root,
    )
    assert response.status_code == 409, response.text


def test_add_note_returns_the_note(api: Api) -> None:
    """A note comes back with its id, session, author, content and time."""
    ada_id, ada = api.operator("ada")
    sid = api.held_chat(ada)
    response = api.client.post(
        "/api/chat-management/add-note", json={"sessionId": sid, "content": "VIP"}, headers=ada
    )
    assert response.status_code == 201, response.text
    note = response.json()
    assert note["sessionId"] == sid
    assert note["operatorId"] == ada_id
    assert note["content"] == "VIP"
    assert note["id"]
    assert note["createdAt"].startswith("2026-12-08T17:30")


def test_add_note_to_an_unknown_chat_or_empty_is_refused(api: Api) -> None:
    """An unknown session is 404 and an empty note is 400 naming content."""
    _, ada = api.operator("ada")
    missing = api.client.post(
        "/api/chat-management/add-note", json={"sessionId": SID, "content": "x"}, headers=ada
    )
    assert missing.status_code == 404
    sid = api.visitor_chat()
    empty = api.client.post(
        "/api/chat-management/add-note", json={"sessionId": sid, "content": "  "}, headers=ada
    )
    assert_bad(empty, "content")


def test_history_shows_messages_notes_operators_and_changes(api: Api) -> None:
    """The history has the session, widget-shaped messages, notes, operators and from/to lines."""
    ada_id, ada = api.operator("ada")
    sid = api.held_chat(ada)
    api.client.post(
        "/api/operators/send-message", json={"sessionId": sid, "message": "Ciao!"}, headers=ada
    )
    response = api.client.get(f"/api/chat-management/history/{sid}", headers=ada)
    assert response.status_code == 200, response.text
    history = response.json()
    assert history["session"]["id"] == sid
    assert history["session"]["operatorId"] == ada_id
    assert history["session"]["rating"] is None
    assert [m["sender"] for m in history["messages"]][:2] == ["USER", "BOT"]
    assert history["messages"][-1]["metadata"]["operatorName"] == "Ada"
    assert [o["id"] for o in history["operators"]] == [ada_id]
    first = history["statusChanges"][0]
    assert (first["from"], first["to"]) == ("ACTIVE", "WITH_OPERATOR")
    assert first["actor"] == f"operator:{ada_id}"


def test_history_of_an_unknown_chat_is_404(api: Api) -> None:
    """A session id the server never issued is not found."""
    _, ada = api.operator("ada")
    response = api.client.get(f"/api/chat-management/history/{SID}", headers=ada)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_active_chats_filters(api: Api) -> None:
    """assigned, unassigned, waiting and all each list the right chats."""
    ada_id, ada = api.operator("ada")
    held = api.held_chat(ada)
    free = api.visitor_chat()
    waiting = api.visitor_chat()
    api.client.post("/api/chat/action", json={"sessionId": waiting, "action": "request_operator"})

    def ids(chat_filter: str | None) -> set[str]:
        params = {"filter": chat_filter} if chat_filter else {}
        response = api.client.get("/api/chat-management/active-chats", params=params, headers=ada)
        assert response.status_code == 200, response.text
        return {row["sessionId"] for row in response.json()}

    assert ids(None) == ids("all") == {held, free, waiting}
    assert ids("assigned") == {held}
    assert ids("unassigned") == {free, waiting}
    assert ids("waiting") == {waiting}
    assigned = api.client.get(
        "/api/chat-management/active-chats", params={"filter": "assigned"}, headers=ada
    ).json()
    assert assigned[0]["operatorId"] == ada_id


def test_active_chats_refuses_an_unknown_filter(api: Api) -> None:
    """A filter outside assigned|unassigned|waiting|all is 400 naming filter."""
    _, ada = api.operator("ada")
    response = api.client.get(
        "/api/chat-management/active-chats", params={"filter": "mine"}, headers=ada
    )
    assert_bad(response, "filter")


def test_create_ticket_from_chat_resolves_it(api: Api) -> None:
    """The ticket carries the transcript and session; the chat is RESOLVED."""
    ada_id, ada = api.operator("ada")
    sid = api.held_chat(ada)
    response = api.client.post(
        "/api/chat-management/create-ticket",
        json={"sessionId": sid, "subject": "QR", "description": "Da verificare"},
        headers=ada,
    )
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert ticket["sessionId"] == sid
    assert ticket["operatorId"] == ada_id
    assert ticket["source"] == "CHAT"
    assert ticket["priority"] == "MEDIUM"
    assert [line["sender"] for line in ticket["transcript"]][:2] == ["USER", "BOT"]
    assert ticket["sla"]["state"] == "ok"
    polled = api.client.get(f"/api/chat/poll/{sid}").json()
    assert polled["sessionStatus"] == "RESOLVED"


def test_create_ticket_from_someone_elses_chat_is_403(api: Api) -> None:
    """Only the holder (or an admin) may turn a chat into a ticket; a long subject is 400."""
    _, ada = api.operator("ada")
    _, bob = api.operator("bob")
    sid = api.held_chat(ada)
    body = {"sessionId": sid, "subject": "QR", "description": "d"}
    response = api.client.post("/api/chat-management/create-ticket", json=body, headers=bob)
    assert response.status_code == 403
    too_long = api.client.post(
        "/api/chat-management/create-ticket", json=body | {"subject": "x" * 201}, headers=ada
    )
    assert_bad(too_long, "subject")


def test_transfer_moves_the_chat(api: Api) -> None:
    """The holder transfers to a colleague; the visitor sees the new name."""
    _, ada = api.operator("ada")
    bob_id, _ = api.operator("bob")
    sid = api.held_chat(ada)
    response = api.client.post(
        "/api/chat-management/transfer",
        json={"sessionId": sid, "toOperatorId": bob_id},
        headers=ada,
    )
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["operatorName"] == "Bob"
    assert api.client.get(f"/api/chat/poll/{sid}").json()["operator"] == "Bob"


def test_transfer_to_an_unknown_operator_is_404(api: Api) -> None:
    """A target operator that does not exist is not found and the chat stays put."""
    _, ada = api.operator("ada")
    sid = api.held_chat(ada)
    response = api.client.post(
        "/api/chat-management/transfer",
        json={"sessionId": sid, "toOperatorId": "nobody"},
        headers=ada,
    )
    assert response.status_code == 404
    assert api.client.get(f"/api/chat/poll/{sid}").json()["operator"] == "Ada"


def test_hand_back_returns_the_chat_to_the_assistant(api: Api) -> None:
    """Hand back answers with the system message; the chat is ACTIVE again."""
    _, ada = api.operator("ada")
    sid = api.held_chat(ada)
    response = api.client.post(
        "/api/chat-management/hand-back", json={"sessionId": sid}, headers=ada
    )
    assert response.status_code == 200, response.text
    assert response.json()["sender"] == "SYSTEM"
    assert api.client.get(f"/api/chat/poll/{sid}").json()["sessionStatus"] == "ACTIVE"


def test_hand_back_of_someone_elses_chat_is_403(api: Api) -> None:
    """An operator who does not hold the chat may not hand it back."""
    _, ada = api.operator("ada")
    _, bob = api.operator("bob")
    sid = api.held_chat(ada)
    response = api.client.post(
        "/api/chat-management/hand-back", json={"sessionId": sid}, headers=bob
    )
    assert response.status_code == 403


# --- /api/tickets -------------------------------------------------------------------------


def test_operator_creates_a_ticket(api: Api) -> None:
    """A hand-made ticket has a normalised contact, no session and a running SLA clock."""
    ada_id, ada = api.operator("ada")
    ticket = api.ticket(ada, name="Ada L.", phone="+39 333 123 4567")
    assert ticket["source"] == "OPERATOR"
    assert ticket["status"] == "OPEN"
    assert ticket["contact"] == {
        "name": "Ada L.",
        "email": "ada@example.org",
        "phone": "+393331234567",
    }
    assert ticket["sessionId"] is None
    assert ticket["operatorId"] == ada_id
    assert ticket["transcript"] == []
    assert ticket["resolvedAt"] is None
    assert ticket["sla"] == {"state": "ok", "dueAt": ticket["dueAt"]}


def test_ticket_needs_a_contact_and_a_known_priority(api: Api) -> None:
    """No e-mail or phone is 400 naming email; an unknown priority is 400 naming priority."""
    _, ada = api.operator("ada")
    body = {"subject": "s", "description": "d", "priority": "HIGH"}
    assert_bad(api.client.post("/api/tickets", json=body, headers=ada), "email")
    bad_priority = body | {"priority": "ASAP", "email": "a@b.it"}
    assert_bad(api.client.post("/api/tickets", json=bad_priority, headers=ada), "priority")


def test_list_tickets_by_status_and_page(api: Api) -> None:
    """Repeated status parameters filter; limit and offset page."""
    _, ada = api.operator("ada")
    first = api.ticket(ada, subject="uno")
    second = api.ticket(ada, subject="due")
    api.ticket(ada, subject="tre")
    api.client.patch(f"/api/tickets/{first['id']}", json={"status": "IN_PROGRESS"}, headers=ada)
    api.client.patch(f"/api/tickets/{second['id']}", json={"status": "CLOSED"}, headers=ada)
    response = api.client.get(
        "/api/tickets", params=[("status", "OPEN"), ("status", "IN_PROGRESS")], headers=ada
    )
    assert response.status_code == 200, response.text
    assert {t["subject"] for t in response.json()} == {"uno", "tre"}
    everything = api.client.get("/api/tickets", headers=ada).json()
    assert len(everything) == 3
    page = api.client.get("/api/tickets", params={"limit": 1, "offset": 1}, headers=ada).json()
    assert len(page) == 1


def test_list_tickets_refuses_a_bad_page_or_status(api: Api) -> None:
    """limit=0 is 400 naming limit; an unknown status is 400 naming status."""
    _, ada = api.operator("ada")
    assert_bad(api.client.get("/api/tickets", params={"limit": 0}, headers=ada), "limit")
    assert_bad(api.client.get("/api/tickets", params={"status": "LOST"}, headers=ada), "status")


def test_get_ticket(api: Api) -> None:
    """A ticket reads back as it was created; an unknown id is 404."""
    _, ada = api.operator("ada")
    ticket = api.ticket(ada)
    response = api.client.get(f"/api/tickets/{ticket['id']}", headers=ada)
    assert response.status_code == 200, response.text
    assert response.json() == ticket
    missing = api.client.get("/api/tickets/NOPE", headers=ada)
    assert missing.status_code == 404


def test_update_ticket_status_priority_and_owner(api: Api, clock: FixedClock) -> None:
    """PATCH assigns, reprioritises and resolves; the SLA is then met."""
    _, ada = api.operator("ada")
    bob_id, _ = api.operator("bob")
    ticket = api.ticket(ada, priority="LOW")
    clock.advance(timedelta(minutes=10))
    response = api.client.patch(
        f"/api/tickets/{ticket['id']}",
        json={"status": "IN_PROGRESS", "priority": "URGENT", "assignTo": bob_id},
        headers=ada,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["status"], updated["priority"], updated["operatorId"]) == (
        "IN_PROGRESS",
        "URGENT",
        bob_id,
    )
    assert updated["dueAt"] == ticket["dueAt"], "a promised due time never moves earlier"
    resolved = api.client.patch(
        f"/api/tickets/{ticket['id']}", json={"status": "RESOLVED"}, headers=ada
    ).json()
    assert resolved["resolvedAt"] is not None
    assert resolved["sla"]["state"] == "met"


def test_update_ticket_refuses_illegal_moves_and_unknowns(api: Api) -> None:
    """Out of CLOSED is 409; an unknown ticket or assignee is 404; a bad status is 400."""
    _, ada = api.operator("ada")
    ticket = api.ticket(ada)
    path = f"/api/tickets/{ticket['id']}"
    assert api.client.patch(path, json={"status": "CLOSED"}, headers=ada).status_code == 200
    reopened = api.client.patch(path, json={"status": "OPEN"}, headers=ada)
    assert reopened.status_code == 409
    assert reopened.json()["code"] == "conflict"
    assert api.client.patch(path, json={"assignTo": "nobody"}, headers=ada).status_code == 404
    unknown = api.client.patch("/api/tickets/NOPE", json={"status": "OPEN"}, headers=ada)
    assert unknown.status_code == 404
    assert_bad(api.client.patch(path, json={"status": "GONE"}, headers=ada), "status")


# --- /api/analytics -----------------------------------------------------------------------


def test_stats_of_today_and_of_another_day(api: Api) -> None:
    """Today counts today's chats in the v2.7 shape; another day is empty; a bad day is 400."""
    ada_id, ada = api.operator("ada")
    api.visitor_chat()
    response = api.client.get("/api/analytics/stats", headers=ada)
    assert response.status_code == 200, response.text
    numbers = response.json()
    assert numbers["day"] == "2026-12-08"
    assert numbers["today"] == {"totalChats": 1, "aiResolved": 1, "escalated": 0, "abandoned": 0}
    assert set(numbers["performance"]) == {
        "avgAssistantResponseMs",
        "avgOperatorFirstResponseSeconds",
        "satisfaction",
        "ratings",
        "slaCompliance",
    }
    assert numbers["operators"]["online"] == 1
    assert numbers["operators"]["waiting"] == 0
    assert [o["id"] for o in numbers["operators"]["list"]] == [ada_id]
    other = api.client.get("/api/analytics/stats", params={"day": "2026-12-01"}, headers=ada)
    assert other.json()["today"]["totalChats"] == 0
    assert_bad(
        api.client.get("/api/analytics/stats", params={"day": "yesterday"}, headers=ada), "day"
    )


def test_events_by_type(api: Api) -> None:
    """The event log filters by type and gives payloads as plain objects; bad input is 400."""
    _, ada = api.operator("ada")
    sid = api.visitor_chat()
    response = api.client.get(
        "/api/analytics/events", params={"type": "session_started"}, headers=ada
    )
    assert response.status_code == 200, response.text
    events = response.json()
    assert [(e["type"], e["sessionId"]) for e in events] == [("session_started", sid)]
    assert events[0]["payload"] == {"language": "it"}
    everything = api.client.get("/api/analytics/events", params={"limit": 1000}, headers=ada)
    assert {"operator_login", "kb_answer"} <= {e["type"] for e in everything.json()}
    assert_bad(
        api.client.get("/api/analytics/events", params={"type": "nope"}, headers=ada), "type"
    )
    assert_bad(api.client.get("/api/analytics/events", params={"limit": 0}, headers=ada), "limit")


def test_daily_counts(api: Api) -> None:
    """One row per day, oldest first, today's chat counted; days=0 is 400."""
    _, ada = api.operator("ada")
    api.visitor_chat()
    response = api.client.get("/api/analytics/daily", params={"days": 3}, headers=ada)
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"day": "2026-12-06", "chats": 0, "escalated": 0},
        {"day": "2026-12-07", "chats": 0, "escalated": 0},
        {"day": "2026-12-08", "chats": 1, "escalated": 0},
    ]
    assert len(api.client.get("/api/analytics/daily", headers=ada).json()) == 14
    assert_bad(api.client.get("/api/analytics/daily", params={"days": 0}, headers=ada), "days")


# --- /api/admin ---------------------------------------------------------------------------


def test_admin_lists_and_creates_operators(api: Api) -> None:
    """An admin sees every operator and creates one (201); a taken username is 409."""
    root_id, root = api.operator("root", role=Role.ADMIN)
    body = {"username": "Eve", "displayName": "Eve R.", "password": PASSWORD, "capacity": 5}
    created = api.client.post("/api/admin/operators", json=body, headers=root)
    assert created.status_code == 201, created.text
    eve = created.json()
    assert (eve["username"], eve["displayName"], eve["role"], eve["capacity"]) == (
        "eve",
        "Eve R.",
        "operator",
        5,
    )
    listed = api.client.get("/api/admin/operators", headers=root)
    assert listed.status_code == 200
    assert {o["id"] for o in listed.json()} == {root_id, eve["id"]}
    again = api.client.post("/api/admin/operators", json=body, headers=root)
    assert again.status_code == 409


def test_admin_create_operator_names_the_bad_field(api: Api) -> None:
    """A short password, bad username or missing field is 400 naming it."""
    _, root = api.operator("root", role=Role.ADMIN)
    body = {"username": "eve", "displayName": "Eve", "password": PASSWORD}
    post = functools.partial(api.client.post, "/api/admin/operators", headers=root)
    assert_bad(post(json=body | {"password": "short"}), "password")
    assert_bad(post(json=body | {"username": "no spaces"}), "username")
    assert_bad(post(json={"username": "eve", "password": PASSWORD}), "displayName")


def test_admin_updates_and_disables_an_operator(api: Api) -> None:
    """PATCH changes capacity and role; disabling revokes the operator's tokens at once."""
    _, root = api.operator("root", role=Role.ADMIN)
    ada_id, ada = api.operator("ada")
    path = f"/api/admin/operators/{ada_id}"
    changed = api.client.patch(path, json={"capacity": 7, "displayName": "Ada L."}, headers=root)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["capacity"], changed.json()["displayName"]) == (7, "Ada L.")
    disabled = api.client.patch(path, json={"disabled": True}, headers=root)
    assert disabled.json()["disabled"] is True
    assert api.client.get("/api/tickets", headers=ada).status_code == 401


def test_admin_update_refuses_unknowns_and_bad_values(api: Api) -> None:
    """An unknown operator is 404, a bad capacity 400, demoting oneself 400."""
    root_id, root = api.operator("root", role=Role.ADMIN)
    ada_id, _ = api.operator("ada")
    missing = api.client.patch("/api/admin/operators/nobody", json={"capacity": 2}, headers=root)
    assert missing.status_code == 404
    assert_bad(
        api.client.patch(f"/api/admin/operators/{ada_id}", json={"capacity": 0}, headers=root),
        "capacity",
    )
    assert_bad(
        api.client.patch(
            f"/api/admin/operators/{root_id}", json={"role": "operator"}, headers=root
        ),
        "operator",
    )


def test_admin_reads_the_audit_trail(api: Api) -> None:
    """The trail lists actions newest first and filters by subject; limit=0 is 400."""
    _, root = api.operator("root", role=Role.ADMIN)
    ada_id, _ = api.operator("ada")
    response = api.client.get("/api/admin/audit", headers=root)
    assert response.status_code == 200, response.text
    entries = response.json()
    assert {"create_operator", "login"} <= {e["action"] for e in entries}
    assert set(entries[0]) == {"id", "at", "actor", "action", "subject", "details"}
    about_ada = api.client.get("/api/admin/audit", params={"subject": ada_id}, headers=root)
    assert {e["subject"] for e in about_ada.json()} == {ada_id}
    created = next(e for e in about_ada.json() if e["action"] == "create_operator")
    assert created["details"] == {"role": "operator"}
    assert created["actor"] == "system"
    assert_bad(api.client.get("/api/admin/audit", params={"limit": 0}, headers=root), "limit")


def test_admin_exports_and_erases_a_session(api: Api) -> None:
    """Export returns everything about the chat; erase removes it and says how much."""
    _, root = api.operator("root", role=Role.ADMIN)
    sid = api.visitor_chat()
    path = f"/api/admin/privacy/sessions/{sid}"
    exported = api.client.get(path, headers=root)
    assert exported.status_code == 200, exported.text
    bundle = exported.json()
    assert bundle["session"]["id"] == sid
    assert bundle["messages"][0]["text"] == "quanto costa il biglietto?"
    erased = api.client.delete(path, headers=root)
    assert erased.status_code == 200, erased.text
    assert erased.json()["removed"] > 1
    assert api.client.get(path, headers=root).status_code == 404
    assert api.client.delete(path, headers=root).status_code == 404


def test_admin_exports_and_erases_a_contact(api: Api) -> None:
    """A contact's tickets export and erase by e-mail; a malformed address is 400."""
    _, root = api.operator("root", role=Role.ADMIN)
    api.ticket(root, email="ada@example.org")
    body = {"email": "ADA@example.org"}
    exported = api.client.post("/api/admin/privacy/contacts/export", json=body, headers=root)
    assert exported.status_code == 200, exported.text
    assert exported.json()["email"] == "ada@example.org"
    assert len(exported.json()["tickets"]) == 1
    erased = api.client.post("/api/admin/privacy/contacts/erase", json=body, headers=root)
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"removed": 1}
    assert api.client.get("/api/tickets", headers=root).json() == []
    bad = api.client.post(
        "/api/admin/privacy/contacts/export", json={"email": "nope"}, headers=root
    )
    assert_bad(bad, "email")


# --- /api/kb --------------------------------------------------------------------------------


def test_kb_lists_filters_and_gets_items(api: Api) -> None:
    """Every operator lists the items by id, filters by words and language, gets one."""
    _, ada = api.operator("ada")
    listed = api.client.get("/api/kb", headers=ada).json()
    ids = [item["id"] for item in listed]
    assert len(ids) == 52
    assert ids == sorted(ids)
    found = api.client.get("/api/kb", params={"q": "PARCHEGGIO auto"}, headers=ada).json()
    assert found
    assert all("parcheggi" in str(item).lower() for item in found)
    english = api.client.get("/api/kb", params={"language": "en"}, headers=ada).json()
    assert english
    assert {item["language"] for item in english} == {"en"}
    one = api.client.get(f"/api/kb/{ids[0]}", headers=ada)
    assert one.status_code == 200
    assert one.json() == listed[0]
    assert api.client.get("/api/kb/nessuno", headers=ada).status_code == 404
    assert_bad(api.client.get("/api/kb", params={"language": "fr"}, headers=ada), "language")


def test_kb_item_added_answers_visitors_then_edits_and_deletion_take_effect(api: Api) -> None:
    """A new item answers visitors at once; so do an edit and a deletion.

    The new item is the reply's source; the edit changes the answer; after deletion it
    answers nobody; each change is in the audit trail.
    """
    _, root = api.operator("root", role=Role.ADMIN)
    item = {"id": "pattinaggio", **KB_ITEM, "keywords": ["pista", "ghiaccio", "pattini"]}
    created = api.client.post("/api/kb", json=item, headers=root)
    assert created.status_code == 201, created.text
    assert created.json() == item | {"language": "it"}
    question = {"message": "si può pattinare sul ghiaccio con i pattini?"}
    reply = api.client.post("/api/chat", json=question).json()
    assert reply["sources"] == ["pattinaggio"]
    assert reply["reply"] == "Sì, sulla pista."
    edited = api.client.put(
        "/api/kb/pattinaggio", json=item | {"answer": "Sì, dalle 18 alle 22."}, headers=root
    )
    assert edited.status_code == 200, edited.text
    again = api.client.post("/api/chat", json=question).json()
    assert again["reply"] == "Sì, dalle 18 alle 22."
    assert api.client.delete("/api/kb/pattinaggio", headers=root).status_code == 204
    assert api.client.get("/api/kb/pattinaggio", headers=root).status_code == 404
    last = api.client.post("/api/chat", json=question).json()
    assert "pattinaggio" not in last["sources"]
    trail = api.client.get("/api/admin/audit", headers=root).json()
    kb_lines = [(a["action"], a["subject"]) for a in trail if "kb" in a["action"]]
    assert sorted(kb_lines) == [
        ("create_kb_item", "pattinaggio"),
        ("delete_kb_item", "pattinaggio"),
        ("update_kb_item", "pattinaggio"),
    ]


def test_kb_changes_refuse_bad_items_and_unknown_ids(api: Api) -> None:
    """Bad items and unknown ids are refused and change nothing.

    A taken id is 409; a bad or reserved id, empty answer or long question 400 naming it; editing or
    deleting an unknown id 404; none of these changes anything.
    """
    _, root = api.operator("root", role=Role.ADMIN)
    before = api.client.get("/api/kb", headers=root).json()
    post = functools.partial(api.client.post, "/api/kb", headers=root)
    assert post(json={"id": "orari", **KB_ITEM}).status_code == 409
    assert_bad(post(json={"id": "no spaces", **KB_ITEM}), "id")
    # GET /api/kb/gaps is the gaps list: an item of that id could never be read back.
    assert_bad(post(json={"id": "gaps", **KB_ITEM}), "id")
    assert_bad(post(json={"id": "ok", **KB_ITEM, "answer": "  "}), "answer")
    assert_bad(post(json={"id": "ok", **KB_ITEM, "question": "?" * 501}), "question")
    assert_bad(post(json={"id": "ok", **KB_ITEM, "keywords": "pista"}), "keywords")
    assert api.client.put("/api/kb/nessuno", json=KB_ITEM, headers=root).status_code == 404
    assert api.client.delete("/api/kb/nessuno", headers=root).status_code == 404
    assert api.client.get("/api/kb", headers=root).json() == before


def test_kb_keeps_markup_as_text(api: Api) -> None:
    """Markup in an answer is kept as text.

    It is stored and returned exactly as typed (escaping is the
    renderer's job), to operators and to visitors.
    """
    _, root = api.operator("root", role=Role.ADMIN)
    markup = '<script>alert(1)</script><img src=x onerror="alert(2)"> & <b>grassetto</b>'
    item = {"id": "markup", "question": "Zattera magica?", "answer": markup}
    assert api.client.post("/api/kb", json=item, headers=root).status_code == 201
    assert api.client.get("/api/kb/markup", headers=root).json()["answer"] == markup
    reply = api.client.post("/api/chat", json={"message": "zattera magica?"}).json()
    assert reply["reply"] == markup


def test_kb_try_answers_like_a_new_chat_and_stores_nothing(api: Api) -> None:
    """Trying a question answers as a new chat would, and stores nothing.

    A known question gives the answer, its source with a score and no offer; an
    unrelated one offers a human for low confidence; no chat is created.
    """
    _, ada = api.operator("ada")
    known = api.client.post(
        "/api/kb/try", json={"question": "dove posso parcheggiare?"}, headers=ada
    )
    assert known.status_code == 200, known.text
    body = known.json()
    assert body["language"] == "it"
    assert body["offerHuman"] is False
    assert body["sources"]
    assert body["sources"][0]["id"] == body["retrieved"][0]["id"]
    assert 0.3 <= body["confidence"] <= 1.0
    assert 0.0 < body["sources"][0]["score"] <= 1.0
    unrelated = api.client.post(
        "/api/kb/try", json={"question": "What is the capital of France?"}, headers=ada
    ).json()
    assert unrelated["language"] == "en"
    assert unrelated["offerHuman"] is True
    assert "low_confidence" in unrelated["reasons"]
    assert unrelated["sources"] == []
    german = api.client.post(
        "/api/kb/try", json={"question": "parcheggio?", "language": "de"}, headers=ada
    ).json()
    assert german["language"] == "de"
    assert_bad(api.client.post("/api/kb/try", json={"question": " "}, headers=ada), "question")
    chats = api.client.get("/api/chat-management/active-chats", headers=ada).json()
    assert chats == []
    assert api.client.get("/api/analytics/stats", headers=ada).json()["today"]["totalChats"] == 0


# Questions no sample item answers (the first two ask the same thing), and one it does.
UNANSWERED = [
    "chi ha vinto la partita ieri?",
    "chi ha vinto la partita di calcio ieri sera?",
    "mi consigli un hotel economico?",
]
ANSWERED = "quanto costa il biglietto?"


def test_kb_gaps_group_what_visitors_asked_and_nobody_answered(api: Api) -> None:
    """The report lists the unanswered questions, grouped, and not the answered one.

    Asking the same thing twice makes one group of two, listed first; days and limit out of
    range are 400 naming them.
    """
    _, ada = api.operator("ada")
    empty = api.client.get("/api/kb/gaps", headers=ada)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"groups": [], "days": 30}
    sessions = {text: api.visitor_chat(text) for text in [*UNANSWERED, ANSWERED]}
    response = api.client.get("/api/kb/gaps", params={"days": 7}, headers=ada)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["days"] == 7
    groups = body["groups"]
    examples = [example for group in groups for example in group["examples"]]
    assert sorted(e["text"] for e in examples) == sorted(UNANSWERED)
    assert {e["sessionId"] for e in examples} == {sessions[text] for text in UNANSWERED}
    assert all(0.0 <= e["confidence"] < 0.3 for e in examples), examples
    assert groups[0]["count"] == 2
    assert {e["text"] for e in groups[0]["examples"]} == set(UNANSWERED[:2])
    assert all(g["count"] == len(g["examples"]) for g in groups)
    assert all(g["lastAt"] == max(e["at"] for e in g["examples"]) for g in groups)
    one = api.client.get("/api/kb/gaps", params={"limit": 1}, headers=ada).json()
    assert one["groups"] == groups[:1]
    gaps = functools.partial(api.client.get, "/api/kb/gaps", headers=ada)
    for days in (0, 3651, "tanti"):
        assert_bad(gaps(params={"days": days}), "days")
    for limit in (0, 201):
        assert_bad(gaps(params={"limit": limit}), "limit")


def test_pending_chats_show_the_visitors_words_language_and_wait(
    api: Api, clock: FixedClock
) -> None:
    """A queue row: the visitor's last words as a one-line preview, language, seconds waited."""
    _, ada = api.operator("ada")
    sid = api.visitor_chat("hello, my QR code does not scan")
    long = "the ticket I bought for Sunday never arrived by e-mail\n" * 10
    sent = api.client.post("/api/chat", json={"message": long, "sessionId": sid})
    assert sent.status_code == 200, sent.text
    api.client.post("/api/chat/action", json={"sessionId": sid, "action": "request_operator"})
    clock.advance(timedelta(minutes=3))

    (row,) = api.client.get("/api/operators/pending-chats", headers=ada).json()

    assert row["lastMessage"].startswith("I'm connecting you with an operator")
    assert row["lastVisitorMessage"].startswith("the ticket I bought for Sunday never arrived")
    assert row["lastVisitorMessage"].endswith("…")
    assert len(row["lastVisitorMessage"]) <= 160
    assert "\n" not in row["lastVisitorMessage"]
    assert row["language"] == "en"
    assert row["waitedSeconds"] == 180, "by the server's clock: no browser's skew"
    other = api.visitor_chat("a che ora aprite?")
    every = api.client.get("/api/chat-management/active-chats", headers=ada).json()
    waits = {r["sessionId"]: r["waitedSeconds"] for r in every}
    assert waits == {sid: 180, other: None}, "only a queued chat has a wait"


# --- the whole conversation ---------------------------------------------------------------


def test_whole_conversation_over_http(any_api: Api) -> None:
    """Ask, queue, take, reply, poll, note, ticket, rate, stats and audit, all over HTTP."""
    api = any_api
    client = api.client
    ada_id, ada = api.operator("ada")

    asked = client.post("/api/chat", json={"message": "quanto costa il biglietto?"}).json()
    sid = asked["sessionId"]
    assert asked["sources"]
    queued = client.post("/api/chat/action", json={"sessionId": sid, "action": "request_operator"})
    assert queued.status_code == 200, queued.text
    assert queued.json()["outcome"] == "queued"
    pending = client.get("/api/operators/pending-chats", headers=ada).json()
    assert [(p["sessionId"], p["queue"]["position"]) for p in pending] == [(sid, 1)]
    # The waiting list shows what the visitor asked, not the assistant's hand-off line.
    assert pending[0]["lastVisitorMessage"] == "quanto costa il biglietto?"
    assert pending[0]["lastMessage"] != pending[0]["lastVisitorMessage"]
    assert pending[0]["language"] == "it"
    assert pending[0]["requestedAt"]

    taken = client.post("/api/operators/take-chat", json={"sessionId": sid}, headers=ada)
    assert taken.status_code == 200, taken.text
    sent = client.post(
        "/api/operators/send-message", json={"sessionId": sid, "message": "Ciao, sono Ada!"}
    )
    assert sent.status_code == 401, "replying needs a token too"
    sent = client.post(
        "/api/operators/send-message",
        json={"sessionId": sid, "message": "Ciao, sono Ada!"},
        headers=ada,
    )
    assert sent.status_code == 201, sent.text
    polled = client.get(f"/api/chat/poll/{sid}", params={"since": asked["message"]["seq"]}).json()
    assert polled["sessionStatus"] == "WITH_OPERATOR"
    assert polled["operator"] == "Ada"
    assert polled["messages"][-1]["message"] == "Ciao, sono Ada!"
    assert polled["messages"][-1]["metadata"]["operatorName"] == "Ada"
    client.post("/api/chat", json={"message": "Ho un problema col QR", "sessionId": sid})

    note = client.post(
        "/api/chat-management/add-note",
        json={"sessionId": sid, "content": "Cliente VIP"},
        headers=ada,
    )
    assert note.status_code == 201, note.text
    everything = client.get(f"/api/chat/poll/{sid}").json()
    assert all("Cliente VIP" not in m["message"] for m in everything["messages"])

    ticket = client.post(
        "/api/chat-management/create-ticket",
        json={"sessionId": sid, "subject": "QR non valido", "description": "Da verificare"},
        headers=ada,
    )
    assert ticket.status_code == 201, ticket.text
    assert len(ticket.json()["transcript"]) == 5
    assert client.get(f"/api/chat/poll/{sid}").json()["sessionStatus"] == "RESOLVED"
    rated = client.post("/api/chat/rating", json={"sessionId": sid, "rating": 5})
    assert rated.status_code == 204, rated.text

    history = client.get(f"/api/chat-management/history/{sid}", headers=ada).json()
    assert history["session"]["rating"] == 5
    assert history["internalNotes"][0]["content"] == "Cliente VIP"
    assert [o["id"] for o in history["operators"]] == [ada_id]

    numbers = client.get("/api/analytics/stats", headers=ada).json()
    assert numbers["today"]["totalChats"] == 1
    assert numbers["today"]["escalated"] == 1
    assert numbers["performance"]["satisfaction"] == 5.0
    assert numbers["performance"]["ratings"] == 1

    _, root = api.operator("root", role=Role.ADMIN)
    audit = client.get("/api/admin/audit", headers=root).json()
    assert {"take_chat", "send_message", "add_note", "create_ticket"} <= {
        e["action"] for e in audit
    }
