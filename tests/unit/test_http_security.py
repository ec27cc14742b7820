"""The HTTP service under attack: forged tokens, other people's chats, floods, bad bodies."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import secrets
import string
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from ipaddress import ip_network
from typing import Any

import attrs
import jwt
import pytest
import structlog
from litestar.testing import TestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from lucine_adapters.system import FixedClock
from lucine_adapters.tokens import JwtTokenIssuer
from lucine_core.enums import Role
from lucine_core.services import Services
from lucine_core.services.operators import update_operator
from lucine_http.app import create_app
from lucine_http.config import HttpConfig
from lucine_http.observability import configure_logging
from tests.conftest import PASSWORD, make_operator

KEY = secrets.token_bytes(32)
ME = "/api/operators/me"
Headers = dict[str, str]
Claims = dict[str, Any]


def behind(app: ASGIApp, peer: str) -> ASGIApp:
    """``app`` as reached from the socket address ``peer`` (the TestClient's is "testclient")."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "client": (peer, 50000)}  # type: ignore[assignment]
        await app(scope, receive, send)

    return asgi


@attrs.define
class Api:
    """A test client over in-memory services whose tokens are signed with ``KEY``."""

    client: TestClient[Any]
    services: Services
    clock: FixedClock

    def run(self, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any) -> Any:
        """Run a use case on the app's own event loop."""
        return self.client.blocking_portal.call(functools.partial(fn, *args, **kwargs))

    def login(self, username: str, password: str = PASSWORD) -> str:
        """Log in over HTTP and return the bearer token."""
        response = self.client.post(
            "/api/operators/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def operator(self, username: str, *, role: Role = Role.OPERATOR) -> tuple[str, str]:
        """Create an operator, log them in and return their id and token."""
        operator_id = self.run(make_operator, self.services, username, role=role)
        return operator_id, self.login(username)

    def me(self, token: str) -> Any:
        """GET /api/operators/me with ``token``."""
        return self.client.get(ME, headers=bearer(token))

    def chat(self, text: str = "quanto costa il biglietto?", **headers: str) -> str:
        """A visitor starts a chat; returns its session id."""
        response = self.client.post("/api/chat", json={"message": text}, headers=headers)
        assert response.status_code == 200, response.text
        return str(response.json()["sessionId"])

    def session_count(self) -> int:
        """How many chat sessions exist, in any state."""

        async def count() -> int:
            async with self.services.uow() as uow:
                return sum((await uow.sessions.count_by_status()).values())

        return int(self.run(count))


def bearer(token: str) -> Headers:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def manual(services: Services) -> Services:
    """``services`` with tokens signed by ``KEY`` and automatic assignment off."""
    return attrs.evolve(
        services,
        tokens=JwtTokenIssuer(KEY),
        policies=attrs.evolve(services.policies, auto_assign=False),
    )


@pytest.fixture
def api(services: Services, clock: FixedClock) -> Iterator[Api]:
    """The HTTP app with default limits over in-memory services."""
    services = manual(services)
    with TestClient(create_app(services)) as client:
        yield Api(client=client, services=services, clock=clock)


@contextmanager
def api_with(
    services: Services, clock: FixedClock, config: HttpConfig, peer: str | None = None
) -> Iterator[Api]:
    """An Api over ``config``, reached from ``peer`` (the TestClient's own when None)."""
    services = manual(services)
    app = create_app(services, config)
    with TestClient(behind(app, peer) if peer else app) as client:
        yield Api(client=client, services=services, clock=clock)


def assert_not_authenticated(response: Any) -> None:
    """A 401 in the API's JSON error shape."""
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["code"] == "not_authenticated"
    assert body["message"]


# --- forged and stale tokens ----------------------------------------------------------


def b64(data: bytes) -> str:
    """Unpadded base64url, as JWTs use."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    """A JSON object as a JWT segment."""
    return b64(json.dumps(value, separators=(",", ":")).encode())


def claims_of(token: str) -> Claims:
    """A token's payload, unverified."""
    payload: Claims = jwt.decode(token, options={"verify_signature": False})
    return payload


def sign(claims: Claims, key: bytes = KEY, algorithm: str = "HS256") -> str:
    """A token signed like the server's, with whatever claims a test chooses."""
    return jwt.encode(claims, key, algorithm=algorithm)


def hmac_signed(claims: Claims, key: bytes, alg: str = "HS256") -> str:
    """A token signed by hand (PyJWT refuses an empty key and warns on short HS512 keys)."""
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    signing_input = f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims)}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def unsigned(claims: Claims, alg: str = "none") -> str:
    """An "alg: none" token with an empty signature."""
    return f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims)}."


def with_payload(token: str, claims: Claims) -> str:
    """``token`` with its payload replaced and its original header and signature kept."""
    header, _, signature = token.split(".")
    return f"{header}.{segment(claims)}.{signature}"


def without(claims: Claims, name: str) -> Claims:
    """``claims`` missing ``name``."""
    return {k: v for k, v in claims.items() if k != name}


@attrs.frozen
class Scene:
    """A genuine token, its claims, the clock's now (epoch seconds) and another operator."""

    token: str
    claims: Claims
    now: int
    other_id: str


Forgery = Callable[[Scene], str]

HOUR = 3600
FORGERIES: dict[str, Forgery] = {
    "alg none": lambda s: unsigned(s.claims),
    "alg None": lambda s: unsigned(s.claims, "None"),
    "alg none, signature kept": lambda s: (
        f"{segment({'alg': 'none', 'typ': 'JWT'})}.{s.token.split('.', 1)[1]}"
    ),
    "wrong key": lambda s: sign(s.claims, secrets.token_bytes(32)),
    "empty key": lambda s: hmac_signed(s.claims, b""),
    "HS512 with the right key": lambda s: hmac_signed(s.claims, KEY, "HS512"),
    "expired": lambda s: sign(
        s.claims | {"iat": s.now - 9 * HOUR, "nbf": s.now - 9 * HOUR, "exp": s.now - 60}
    ),
    "expired beyond the leeway": lambda s: sign(s.claims | {"exp": s.now - 11}),
    "not yet valid (nbf)": lambda s: sign(s.claims | {"nbf": s.now + HOUR}),
    "issued in the future (iat)": lambda s: sign(s.claims | {"iat": s.now + HOUR}),
    "sub changed, signature kept": lambda s: with_payload(s.token, s.claims | {"sub": s.other_id}),
    "exp extended, signature kept": lambda s: with_payload(
        s.token, s.claims | {"exp": s.now + 100 * HOUR}
    ),
    "ver changed, signature kept": lambda s: with_payload(
        s.token, s.claims | {"ver": s.claims["ver"] + 1}
    ),
    "wrong aud": lambda s: sign(s.claims | {"aud": "lucine-visitors"}),
    "aud list without ours": lambda s: sign(s.claims | {"aud": ["shop", "lucine-admins"]}),
    "wrong iss": lambda s: sign(s.claims | {"iss": "https://evil.example"}),
    "unknown operator": lambda s: sign(s.claims | {"sub": secrets.token_hex(16)}),
    "future token version": lambda s: sign(s.claims | {"ver": s.claims["ver"] + 1}),
    "ver as a string": lambda s: sign(s.claims | {"ver": str(s.claims["ver"])}),
    "sub as a number": lambda s: sign(s.claims | {"sub": 12345}),
    "exp as text": lambda s: sign(s.claims | {"exp": "tomorrow"}),
    "garbage": lambda _: "not.a.jwt",
    "two segments": lambda s: s.token.rsplit(".", 1)[0],
    **{
        f"missing {name}": functools.partial(
            lambda s, name: sign(without(s.claims, name)), name=name
        )
        for name in ("exp", "iat", "nbf", "sub", "jti", "iss", "aud", "ver")
    },
}


@pytest.fixture
def scene(api: Api) -> Scene:
    """Ada logged in, and Bea, another operator."""
    _, token = api.operator("ada")
    other_id, _ = api.operator("bea")
    return Scene(
        token=token,
        claims=claims_of(token),
        now=int(api.clock.now().timestamp()),
        other_id=other_id,
    )


def test_genuine_and_self_signed_tokens_are_accepted(api: Api, scene: Scene) -> None:
    """The login token and one signed here with its claims pass: forgeries fail for their flaw."""
    assert api.me(scene.token).status_code == 200
    resigned = api.me(sign(scene.claims))
    assert resigned.status_code == 200, resigned.text
    assert resigned.json()["username"] == "ada"
    within_leeway = api.me(sign(scene.claims | {"nbf": scene.now + 5, "iat": scene.now + 5}))
    assert within_leeway.status_code == 200


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_token_is_401(api: Api, scene: Scene, forge: Forgery) -> None:
    """A forged, tampered, mistimed or malformed token is refused with 401 not_authenticated."""
    assert_not_authenticated(api.me(forge(scene)))


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_token_in_the_cookie_is_401(api: Api, scene: Scene, forge: Forgery) -> None:
    """The dashboard's cookie is checked exactly like the header."""
    api.client.cookies.set("lucine_token", forge(scene))
    try:
        assert_not_authenticated(api.client.get(ME))
    finally:
        api.client.cookies.clear()


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic YWRhOnB3", "Token abc", "bearer", "Bearer a b"],
)
def test_malformed_authorization_header_is_401(api: Api, authorization: str) -> None:
    """Anything but a well-formed bearer token is not a credential."""
    assert_not_authenticated(api.client.get(ME, headers={"Authorization": authorization}))


def test_token_expires_on_the_services_clock(api: Api) -> None:
    """A token works until 8 hours after login (plus a 10 s leeway) by the app's clock, then 401."""
    _, token = api.operator("ada")
    api.clock.advance(timedelta(hours=8, seconds=-1))
    assert api.me(token).status_code == 200
    api.clock.advance(timedelta(seconds=12))
    assert_not_authenticated(api.me(token))


def test_logout_revokes_every_token_of_the_operator(api: Api) -> None:
    """After logout the used token and another session's token are 401; a new login works."""
    _, first = api.operator("ada")
    second = api.login("ada")
    assert api.me(second).status_code == 200
    assert api.client.post("/api/operators/logout", headers=bearer(first)).status_code == 204
    assert_not_authenticated(api.me(first))
    assert_not_authenticated(api.me(second))
    assert_not_authenticated(api.client.post("/api/operators/logout", headers=bearer(first)))
    assert api.me(api.login("ada")).status_code == 200


def admin_update(api: Api, admin_token: str, operator_id: str, **fields: Any) -> None:
    """An admin changes an account over HTTP (or through the use case, without the route)."""
    response = api.client.patch(
        f"/api/admin/operators/{operator_id}", json=fields, headers=bearer(admin_token)
    )
    if response.status_code == 404 and response.json().get("message") == "not found":
        admin_id = claims_of(admin_token)["sub"]
        api.run(update_operator, api.services, actor_id=admin_id, operator_id=operator_id, **fields)
        return
    assert response.status_code == 200, response.text


def test_disabled_operator_token_is_401(api: Api) -> None:
    """A disabled account's token is 401 and login fails; re-enabling does not revive the token."""
    _, admin_token = api.operator("boss", role=Role.ADMIN)
    ada_id, token = api.operator("ada")
    admin_update(api, admin_token, ada_id, disabled=True)
    assert_not_authenticated(api.me(token))
    refused = api.client.post(
        "/api/operators/login", json={"username": "ada", "password": PASSWORD}
    )
    assert refused.status_code == 401
    admin_update(api, admin_token, ada_id, disabled=False)
    assert_not_authenticated(api.me(token))
    assert api.me(api.login("ada")).status_code == 200


def test_password_change_revokes_tokens(api: Api) -> None:
    """A password set by an admin makes earlier tokens 401; the new password logs in."""
    _, admin_token = api.operator("boss", role=Role.ADMIN)
    ada_id, token = api.operator("ada")
    admin_update(api, admin_token, ada_id, password="another long passphrase")
    assert_not_authenticated(api.me(token))
    assert api.me(api.login("ada", "another long passphrase")).status_code == 200
    assert api.me(admin_token).status_code == 200


# --- who may see and do what ----------------------------------------------------------

SID = "s" * 32
OPERATOR_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/operators/me", None),
    ("POST", "/api/operators/logout", None),
    ("POST", "/api/operators/availability", {"availability": "ONLINE"}),
    ("POST", "/api/operators/send-message", {"sessionId": SID, "message": "hi"}),
    ("GET", "/api/operators/pending-chats", None),
    ("POST", "/api/operators/take-chat", {"sessionId": SID}),
    ("GET", f"/api/chat-management/history/{SID}", None),
    ("GET", "/api/chat-management/active-chats", None),
    ("POST", "/api/chat-management/add-note", {"sessionId": SID, "content": "x"}),
    ("GET", "/api/tickets", None),
    ("GET", "/api/admin/operators", None),
    ("GET", "/api/admin/audit", None),
    ("GET", f"/api/admin/privacy/sessions/{SID}", None),
]
ADMIN_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/admin/operators", None),
    (
        "POST",
        "/api/admin/operators",
        {"username": "eve", "displayName": "Eve", "password": PASSWORD, "role": "admin"},
    ),
    ("PATCH", "/api/admin/operators/whoever", {"role": "admin"}),
    ("GET", "/api/admin/audit", None),
    ("GET", f"/api/admin/privacy/sessions/{SID}", None),
    ("DELETE", f"/api/admin/privacy/sessions/{SID}", None),
    ("POST", "/api/admin/privacy/contacts/export", {"email": "a@example.org"}),
    ("POST", "/api/admin/privacy/contacts/erase", {"email": "a@example.org"}),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ROUTES)
def test_operator_routes_need_a_token(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """Without a token every operator and admin route is 401 before anything else is looked at."""
    assert_not_authenticated(api.client.request(method, path, json=body))


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_refuse_operators(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    """An operator's valid token on an admin route is 403 forbidden, and nothing changes."""
    _, token = api.operator("ada")
    response = api.client.request(method, path, json=body, headers=bearer(token))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"
    assert api.me(token).json()["role"] == "operator"
    assert (
        api.client.post(
            "/api/operators/login", json={"username": "eve", "password": PASSWORD}
        ).status_code
        == 401
    )


def test_poll_of_an_unknown_session_is_404_and_creates_nothing(api: Api) -> None:
    """Polling or writing to an id the server never issued is 404 and no session appears."""
    sid = api.chat()
    before = api.session_count()
    for probe in (SID, sid[:-1], sid + "A", sid[1:] + sid[0]):
        response = api.client.get(f"/api/chat/poll/{probe}")
        assert response.status_code == 404, probe
        assert response.json()["code"] == "not_found"
    written = api.client.post("/api/chat", json={"message": "ciao", "sessionId": SID})
    assert written.status_code == 404
    action = api.client.post(
        "/api/chat/action", json={"sessionId": SID, "action": "request_operator"}
    )
    assert action.status_code == 404
    assert api.session_count() == before


def test_session_ids_are_long_random_and_separate(api: Api) -> None:
    """Session ids have >= 32 URL-safe characters, differ per visitor, and show only their chat."""
    first = api.chat("quanto costa il biglietto? segreto-uno")
    second = api.chat("dove si parcheggia? segreto-due")
    alphabet = set(string.ascii_letters + string.digits + "-_")
    for sid in (first, second):
        assert len(sid) >= 32
        assert set(sid) <= alphabet
    assert first != second
    seen = api.client.get(f"/api/chat/poll/{second}").json()
    assert seen["sessionId"] == second
    assert "segreto-uno" not in json.dumps(seen)
    assert any("segreto-due" in m["message"] for m in seen["messages"])


def test_internal_notes_never_appear_in_polls(api: Api) -> None:
    """Notes written with add-note or with a closing status stay out of the visitor's poll."""
    _, token = api.operator("ada")
    sid = api.chat()
    taken = api.client.post(
        "/api/operators/take-chat", json={"sessionId": sid}, headers=bearer(token)
    )
    assert taken.status_code == 200, taken.text
    note = api.client.post(
        "/api/chat-management/add-note",
        json={"sessionId": sid, "content": "NOTA-RISERVATA cliente VIP"},
        headers=bearer(token),
    )
    assert note.status_code == 201, note.text
    closed = api.client.post(
        "/api/chat-management/update-status",
        json={"sessionId": sid, "status": "RESOLVED", "notes": "CHIUSURA-RISERVATA"},
        headers=bearer(token),
    )
    assert closed.status_code == 200, closed.text
    poll = api.client.get(f"/api/chat/poll/{sid}")
    assert poll.status_code == 200
    text = poll.text
    assert poll.json()["messages"]
    assert "NOTA-RISERVATA" not in text
    assert "CHIUSURA-RISERVATA" not in text
    history = api.client.get(f"/api/chat-management/history/{sid}", headers=bearer(token))
    assert "NOTA-RISERVATA" in history.text


def test_operator_cannot_write_to_a_chat_held_by_another(api: Api) -> None:
    """Only the holder may reply: another operator's send-message is 403, unseen by the visitor."""
    _, ada = api.operator("ada")
    _, bea = api.operator("bea")
    sid = api.chat()
    assert (
        api.client.post(
            "/api/operators/take-chat", json={"sessionId": sid}, headers=bearer(ada)
        ).status_code
        == 200
    )
    response = api.client.post(
        "/api/operators/send-message",
        json={"sessionId": sid, "message": "INTRUSO"},
        headers=bearer(bea),
    )
    assert response.status_code == 403, response.text
    assert "INTRUSO" not in api.client.get(f"/api/chat/poll/{sid}").text


# --- rate limits ----------------------------------------------------------------------


def assert_limited(response: Any, longest: int) -> None:
    """A 429 rate_limited with a Retry-After of 1..``longest`` seconds."""
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "rate_limited"
    retry = int(response.headers["Retry-After"])
    assert 1 <= retry <= longest


def chat_from(api: Api, forwarded: str | None = None) -> Any:
    """A visitor's new chat, optionally with an X-Forwarded-For header."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return api.client.post("/api/chat", json={"message": "orari?"}, headers=headers)


def test_eleventh_message_in_a_minute_is_429(api: Api) -> None:
    """Ten visitor posts per minute per client pass; the 11th is 429 until the minute ends."""
    sid = api.chat()
    for _ in range(9):
        response = api.client.post("/api/chat", json={"message": "orari?", "sessionId": sid})
        assert response.status_code == 200
    assert_limited(api.client.post("/api/chat", json={"message": "orari?", "sessionId": sid}), 60)
    assert_limited(
        api.client.post("/api/chat/action", json={"sessionId": sid, "action": "continue_ai"}), 60
    )
    assert api.client.get(f"/api/chat/poll/{sid}").status_code == 200
    api.clock.advance(timedelta(seconds=60))
    assert api.client.post("/api/chat", json={"message": "ok", "sessionId": sid}).status_code == 200


@pytest.mark.parametrize(
    "trusted",
    [(), (ip_network("127.0.0.0/8"),), (ip_network("10.0.0.0/8"), ip_network("::1/128"))],
    ids=["no proxies", "loopback trusted", "private net trusted"],
)
def test_spoofed_forwarded_for_does_not_reset_the_limit(
    services: Services, clock: FixedClock, trusted: tuple[Any, ...]
) -> None:
    """A peer that is not a trusted proxy stays limited whatever X-Forwarded-For it sends."""
    with api_with(services, clock, HttpConfig(trusted_proxies=trusted)) as api:
        for n in range(10):
            assert chat_from(api, f"198.51.100.{n}").status_code == 200
        assert_limited(chat_from(api, "198.51.100.77"), 60)
        assert_limited(chat_from(api, "203.0.113.1, 10.0.0.1"), 60)
        assert_limited(chat_from(api), 60)


def test_untrusted_ip_peer_cannot_spoof(services: Services, clock: FixedClock) -> None:
    """A real IP peer outside the trusted network is limited by its own address."""
    config = HttpConfig(trusted_proxies=(ip_network("10.0.0.0/8"),))
    with api_with(services, clock, config, peer="203.0.113.9") as api:
        for n in range(10):
            assert chat_from(api, f"10.0.0.{n + 1}").status_code == 200
        assert_limited(chat_from(api, "192.0.2.200"), 60)


def test_behind_a_trusted_proxy_the_forwarded_client_is_limited(
    services: Services, clock: FixedClock
) -> None:
    """Behind a trusted proxy each forwarded client has its own limit; spoofed hops do not help."""
    config = HttpConfig(trusted_proxies=(ip_network("10.0.0.0/8"),))
    with api_with(services, clock, config, peer="10.0.0.2") as api:
        for n in range(10):
            assert chat_from(api, f"172.16.0.{n}, 198.51.100.7").status_code == 200
        assert_limited(chat_from(api, "198.51.100.7"), 60)
        assert_limited(chat_from(api, "192.0.2.1, 198.51.100.7, 10.0.0.9"), 60)
        assert chat_from(api, "198.51.100.8").status_code == 200
        assert chat_from(api, "not-an-ip").status_code == 200


def test_new_chats_are_limited_per_hour(api: Api) -> None:
    """The 21st new chat from one client within an hour is 429, minute limit aside."""
    for _ in range(20):
        assert chat_from(api).status_code == 200
        api.clock.advance(timedelta(seconds=61))
    assert_limited(chat_from(api), 3600)


def login_from(api: Api, username: str, password: str, forwarded: str) -> Any:
    """A login attempt from the forwarded client ``forwarded``."""
    return api.client.post(
        "/api/operators/login",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": forwarded},
    )


@pytest.fixture
def proxied(services: Services, clock: FixedClock) -> Iterator[Api]:
    """The app behind a trusted proxy at 10.0.0.2, so each X-Forwarded-For is a client."""
    config = HttpConfig(trusted_proxies=(ip_network("10.0.0.0/8"),))
    with api_with(services, clock, config, peer="10.0.0.2") as api:
        yield api


def test_sixth_failed_login_for_a_username_is_429_from_any_client(proxied: Api) -> None:
    """Five failures for a username (in any spelling) lock it for 15 minutes, whoever asks."""
    api = proxied
    api.run(make_operator, api.services, "ada")
    spellings = ["ada", "ADA", " Ada ", "aDa", "ada"]
    for n, name in enumerate(spellings):
        response = login_from(api, name, "wrong password!", f"198.51.100.{n}")
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"
    assert_limited(login_from(api, "ada", PASSWORD, "192.0.2.50"), 900)
    assert login_from(api, "bea", "wrong password!", "192.0.2.51").status_code == 401
    api.clock.advance(timedelta(minutes=15))
    assert login_from(api, "ada", PASSWORD, "192.0.2.52").status_code == 200


def test_spoofed_forwarded_for_does_not_reset_failed_logins(api: Api) -> None:
    """Without trusted proxies, changing X-Forwarded-For does not escape the login limits."""
    api.run(make_operator, api.services, "ada")
    for n in range(5):
        assert login_from(api, "ada", "wrong password!", f"198.51.100.{n}").status_code == 401
    assert_limited(login_from(api, "ada", PASSWORD, "198.51.100.99"), 900)
    assert_limited(login_from(api, "bea", "wrong password!", "203.0.113.4"), 900)


def test_successful_login_resets_the_username_counter(proxied: Api) -> None:
    """After a success the username gets five fresh failures before the 429."""
    api = proxied
    api.run(make_operator, api.services, "ada")
    for n in range(4):
        assert login_from(api, "ada", "wrong password!", f"198.51.100.{n}").status_code == 401
    assert login_from(api, "ada", PASSWORD, "198.51.100.10").status_code == 200
    for n in range(5):
        assert login_from(api, "ada", "wrong password!", f"203.0.113.{n}").status_code == 401
    assert_limited(login_from(api, "ada", PASSWORD, "203.0.113.99"), 900)


def test_one_client_failing_many_usernames_is_429(proxied: Api) -> None:
    """Five failures from one client across usernames lock that client, not the others."""
    api = proxied
    api.run(make_operator, api.services, "ada")
    for n in range(5):
        assert login_from(api, f"user{n}", "wrong password!", "198.51.100.1").status_code == 401
    assert_limited(login_from(api, "ada", PASSWORD, "198.51.100.1"), 900)
    assert login_from(api, "ada", PASSWORD, "198.51.100.2").status_code == 200


# --- bodies ---------------------------------------------------------------------------

LIMIT = 64 * 1024


def post_raw(api: Api, path: str, body: bytes | Iterator[bytes]) -> Any:
    """POST ``body`` as JSON without encoding it."""
    return api.client.post(path, content=body, headers={"Content-Type": "application/json"})


def assert_json_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """An error of ``status`` in the API's JSON shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str)
    return body


def test_oversized_body_is_413(api: Api) -> None:
    """A body over 64 KiB is 413 body_too_large, with or without Content-Length; nothing stored."""
    body = json.dumps({"message": "x" * LIMIT}).encode()
    assert_json_error(post_raw(api, "/api/chat", body), 413, "body_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    assert_json_error(post_raw(api, "/api/chat", chunks()), 413, "body_too_large")
    assert api.session_count() == 0


def test_body_at_the_limit_is_read(api: Api) -> None:
    """Exactly 64 KiB is read and judged on its content (a too-long message is 400, not 413)."""
    prefix, suffix = b'{"message": "', b'"}'
    body = prefix + b"x" * (LIMIT - len(prefix) - len(suffix)) + suffix
    assert len(body) == LIMIT
    body_json = assert_json_error(post_raw(api, "/api/chat", body), 400, "invalid_input")
    assert "message" in json.dumps(body_json.get("details"))


@pytest.mark.parametrize(
    "body",
    [b"{bad", b'{"message": "ciao"', b"", b"\x00\x01", b'{"message": "a"}{}', b"tru"],
    ids=["not json", "unterminated", "empty", "binary", "trailing", "truncated literal"],
)
def test_malformed_json_is_400(api: Api, body: bytes) -> None:
    """A body that is not one JSON document is 400 invalid_input."""
    assert_json_error(post_raw(api, "/api/chat", body), 400, "invalid_input")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/chat", {"message": 5}, "message"),
        ("/api/chat", {"message": ["a"]}, "message"),
        ("/api/chat", {"message": "ciao", "sessionId": 7}, "sessionId"),
        ("/api/chat", {"message": "ciao", "sessionId": "x" * 65}, "sessionId"),
        ("/api/chat", {}, "message"),
        ("/api/chat/action", {"sessionId": SID, "action": ["request_operator"]}, "action"),
        ("/api/chat/rating", {"sessionId": SID, "rating": "five"}, "rating"),
        ("/api/chat/rating", {"sessionId": SID, "rating": 4.5}, "rating"),
        ("/api/chat/ticket", {"sessionId": SID, "message": "x", "email": 1}, "email"),
        ("/api/operators/login", {"username": "ada", "password": None}, "password"),
    ],
)
def test_wrong_types_are_400_naming_the_field(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    """A field of the wrong type, size or presence is 400 and the error names it."""
    response = api.client.post(path, json=body)
    error = assert_json_error(response, 400, "invalid_input")
    assert field in json.dumps(error.get("details")) + error["message"]


def test_unknown_action_is_400(api: Api) -> None:
    """A smart action the widget never offers is 400 naming action."""
    sid = api.chat()
    response = api.client.post("/api/chat/action", json={"sessionId": sid, "action": "drop_db"})
    error = assert_json_error(response, 400, "invalid_input")
    assert error["details"]["field"] == "action"


NASTY: list[tuple[str, str, bytes]] = [
    ("POST", "/api/chat", b"[1, 2]"),
    ("POST", "/api/chat", b"null"),
    ("POST", "/api/chat", b'"text"'),
    ("POST", "/api/chat", b'{"message": "a\\u0000b"}'),
    ("POST", "/api/chat", b'{"message": "\\ud800"}'),
    ("POST", "/api/chat", b'{"message": 1e999}'),
    ("POST", "/api/chat", b'{"message": "ciao", "sessionId": "../../etc/passwd"}'),
    ("POST", "/api/chat", b'{"message": "ciao", "sessionId": "\' OR 1=1 --"}'),
    ("POST", "/api/chat", b"[" * 200 + b"]" * 200),
    ("POST", "/api/chat/rating", b'{"sessionId": "x", "rating": -1e308}'),
    (
        "POST",
        "/api/chat/ticket",
        b'{"sessionId": "x", "message": "m", "email": "' + b"a" * 254 + b'"}',
    ),
    ("POST", "/api/operators/login", b'{"username": "ada\\u0000", "password": "x"}'),
    ("POST", "/api/operators/login", b'{"username": "", "password": ""}'),
    ("GET", "/api/chat/poll/" + "x" * 4000, b""),
    ("GET", "/api/chat/poll/%00", b""),
    ("GET", "/api/chat/poll/abc?since=99999999999999999999", b""),
    ("GET", "/api/chat/poll/abc?since=-1", b""),
    ("PUT", "/api/chat", b"{}"),
]


@pytest.mark.parametrize(("method", "path", "body"), NASTY, ids=range(len(NASTY)))
def test_hostile_input_never_causes_5xx(api: Api, method: str, path: str, body: bytes) -> None:
    """Odd JSON, control characters, injections and huge numbers get a 4xx JSON error, not 5xx."""
    response = api.client.request(
        method, path, content=body or None, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"]


def test_deeply_nested_json_is_400(api: Api) -> None:
    """JSON nested a thousand levels deep is refused as invalid input, not a server error."""
    body = b"[" * 1000 + b"]" * 1000
    assert_json_error(post_raw(api, "/api/chat", body), 400, "invalid_input")


def test_invalid_utf8_body_is_400(api: Api) -> None:
    """A body that is not UTF-8 is refused as invalid input, not a server error."""
    assert_json_error(post_raw(api, "/api/chat", b'{"message": "\xff\xfe"}'), 400, "invalid_input")


# --- headers --------------------------------------------------------------------------


def assert_security_headers(response: Any, *, api_route: bool = True) -> None:
    """nosniff, a CSP without plugins or base tags, no framing; no-store under /api."""
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = [d.strip() for d in headers["Content-Security-Policy"].split(";")]
    assert "object-src 'none'" in csp
    assert "base-uri 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    if api_route:
        assert headers["Cache-Control"] == "no-store"


def test_security_headers_on_api_responses(api: Api) -> None:
    """200, 401, 404, 400, 413 and 429 under /api all carry the security headers and no-store."""
    sid = api.chat()
    responses = [
        api.client.get(f"/api/chat/poll/{sid}"),
        api.client.get(ME),
        api.client.get(f"/api/chat/poll/{SID}"),
        post_raw(api, "/api/chat", b"{bad"),
        post_raw(api, "/api/chat", b"x" * (LIMIT + 1)),
        api.client.get("/api/health"),
    ]
    responses.extend(chat_from(api) for _ in range(10))
    assert responses[-1].status_code == 429
    for response in responses:
        assert_security_headers(response)
    assert api.client.get(f"/api/chat/poll/{sid}").headers["Cache-Control"] == "no-store"


def test_docs_csp_still_forbids_plugins_and_base(api: Api) -> None:
    """The API docs page has its own CSP, still with object-src and base-uri 'none'."""
    response = api.client.get("/api/docs/openapi.json")
    assert response.status_code == 200
    assert_security_headers(response, api_route=False)


def test_security_headers_on_unrouted_requests(api: Api) -> None:
    """A 404 for an unknown /api path and a 405 carry the security headers too."""
    unknown = api.client.get("/api/no-such-route")
    assert unknown.status_code == 404
    wrong_method = api.client.put("/api/chat", json={})
    assert wrong_method.status_code == 405
    assert_security_headers(unknown)
    assert_security_headers(wrong_method)


SHOP = "https://shop.example"


@pytest.fixture
def cors(services: Services, clock: FixedClock) -> Iterator[Api]:
    """The app with one shop origin allowed."""
    with api_with(services, clock, HttpConfig(cors_origins=(SHOP,))) as api:
        yield api


def preflight(api: Api, origin: str, path: str = "/api/chat") -> Any:
    """A browser's CORS preflight for a JSON POST."""
    return api.client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_cors_preflight_from_the_shop_is_allowed(cors: Api) -> None:
    """The configured origin gets its origin back, POST and Content-Type allowed."""
    response = preflight(cors, SHOP)
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    simple = cors.client.post("/api/chat", json={"message": "ciao"}, headers={"Origin": SHOP})
    assert simple.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Credentials" not in simple.headers


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "https://shop.example.evil.example", "null", "http://shop.example"],
)
def test_cors_from_another_origin_is_not_allowed(cors: Api, origin: str) -> None:
    """Other origins get no Access-Control-Allow-Origin on preflights or simple requests."""
    response = preflight(cors, origin)
    assert response.status_code >= 400 or "Access-Control-Allow-Origin" not in response.headers
    assert response.headers.get("Access-Control-Allow-Origin") not in (origin, "*")
    simple = cors.client.post("/api/chat", json={"message": "ciao"}, headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in simple.headers


def test_no_cors_without_configured_origins(api: Api) -> None:
    """With no shop origins configured even the shop's preflight gets no CORS grant."""
    response = preflight(api, SHOP)
    assert "Access-Control-Allow-Origin" not in response.headers
    simple = api.client.post("/api/chat", json={"message": "ciao"}, headers={"Origin": SHOP})
    assert "Access-Control-Allow-Origin" not in simple.headers


@pytest.mark.parametrize("name", ["widget.js", "widget.css", "demo.css"])
def test_static_serves_the_widget_files(api: Api, name: str) -> None:
    """The widget's and demo page's files are served from /static, cached for an hour."""
    response = api.client.get(f"/static/{name}")
    assert response.status_code == 200
    assert "max-age=3600" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/dashboard/index.html",
        "/static/dashboard/api.js",
        "/static/demo.html",
        "/static/../routes/assets.py",
        "/static/%2e%2e/app.py",
    ],
)
def test_static_serves_nothing_else(api: Api, path: str) -> None:
    """The dashboard's files, other pages and anything outside the folder are 404 there."""
    assert api.client.get(path).status_code == 404


def test_a_logged_exception_carries_its_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """The server's JSON log lines give an unexpected error's traceback as text."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging()
        try:
            raise RuntimeError("boom")  # noqa: TRY301 - the error to log
        except RuntimeError as error:
            logging.getLogger("lucine.http").exception("unexpected error", exc_info=error)
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    finally:
        root.handlers, root.level = handlers, level
        structlog.reset_defaults()
    assert line["event"] == "unexpected error"
    assert "Traceback" in line["exception"]
    assert "RuntimeError: boom" in line["exception"]
