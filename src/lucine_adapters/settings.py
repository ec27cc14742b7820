"""Settings: the only place that reads the environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

import attrs

from lucine_adapters.notifiers.config import NotifyConfig, notify_config
from lucine_core.errors import ValidationError

__all__ = [
    "EmbeddingsConfig",
    "LlmConfig",
    "Settings",
    "default_data_dir",
    "environment",
    "normalise_database_url",
]


def environment(environ: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """The environment, over the optional TOML file named by ``LUCINE_CONFIG``.

    The file holds the same names as the environment variables, in any case
    (``database_url = "postgresql://..."``, ``lucine_cors_origins = "https://shop.it"``);
    a variable set in the environment wins over the file.

    Raises:
        ValidationError: the file is missing, unreadable or not valid TOML.
    """
    env = os.environ if environ is None else environ
    path = env.get("LUCINE_CONFIG")
    if not path:
        return env
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ValidationError(field="LUCINE_CONFIG", reason=f"{path}: {error}") from None
    from_file = {}
    for key, value in data.items():
        if isinstance(value, dict | list):
            raise ValidationError(field=f"{path}: {key}", reason="must be a plain value")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        from_file[key.upper()] = text
    return {**from_file, **env}


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """Where Lucine keeps its files: $LUCINE_DATA_DIR, else the user's data directory."""
    if environ.get("LUCINE_DATA_DIR"):
        return Path(environ["LUCINE_DATA_DIR"])
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lucine"


def normalise_database_url(url: str) -> str:
    """Accept the usual ``postgres://`` and ``postgresql://`` forms and pick the async drivers.

    Raises:
        ValidationError: neither a Postgres nor a SQLite URL.
    """
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    for prefix in ("sqlite://", "sqlite+aiosqlite://"):
        if url.startswith(prefix):
            return "sqlite+aiosqlite://" + url[len(prefix) :]
    raise ValidationError(field="DATABASE_URL", reason="must be a postgresql:// or sqlite:// URL")


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValidationError(field=name, reason="must be true or false")


def _float(environ: Mapping[str, str], name: str) -> float | None:
    raw = environ.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValidationError(field=name, reason="must be a number") from None


@attrs.frozen(kw_only=True)
class LlmConfig:
    """How to reach the model and how much it may say.

    Attributes:
        model: The model name (``gpt-4o-mini``, ``llama3.1:8b``...).
        base_url: The server's OpenAI-compatible root (``.../v1``); None means OpenAI.
        api_key: The key; local servers accept any non-empty one.
        timeout: Seconds for one attempt.
        max_retries: Extra attempts on timeouts, 429 and 5xx (the client's backoff).
        temperature: Sampling temperature; low keeps answers close to the items.
        max_output_tokens: The most the model may write per answer.
        history_turns: Earlier messages sent along (the latest ones).
        session_token_budget: Model tokens one chat may use; past it the offline
            responder answers that chat (0: no limit).
        stream: Stream replies to the widget as the model writes them.
        json_mode: Ask for a JSON object (``response_format``); off, the model is asked
            for plain text ending with the cited ids in square brackets (for servers or
            models without JSON mode). Plain text is accepted in either mode.
        shop_name: Named in the system prompt.
    """

    model: str
    base_url: str | None = None
    api_key: str = attrs.field(repr=False)
    timeout: float = 15.0
    max_retries: int = 1
    temperature: float = 0.2
    max_output_tokens: int = 300
    history_turns: int = 6
    session_token_budget: int = 20_000
    stream: bool = False
    json_mode: bool = True
    shop_name: str = "Lucine di Natale"


def _bounded(
    environ: Mapping[str, str], name: str, default: float, low: float, high: float
) -> float:
    value = _float(environ, name)
    if value is None:
        return default
    if not low <= value <= high:
        raise ValidationError(field=name, reason=f"must be between {low:g} and {high:g}")
    return value


# What an OpenAI-compatible server on your own machine (Ollama, llama.cpp) is sent as
# its key: they ignore it, but the client refuses to start without one.
LOCAL_SERVER_KEY = "local-server"


def _llm(env: Mapping[str, str]) -> LlmConfig | None:
    """The LLM responder's config, or None (offline answering) without LUCINE_LLM_MODEL."""
    model = env.get("LUCINE_LLM_MODEL", "").strip()
    if not model:
        return None
    base_url = env.get("LUCINE_LLM_BASE_URL", "").strip().rstrip("/") or None
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise ValidationError(field="LUCINE_LLM_BASE_URL", reason="must be an http(s) URL")
    key = env.get("LUCINE_LLM_API_KEY") or env.get("OPENAI_API_KEY") or None
    if key is None:
        if base_url is None:
            raise ValidationError(
                field="LUCINE_LLM_API_KEY",
                reason="is needed for OpenAI (or set LUCINE_LLM_BASE_URL to a local server)",
            )
        key = LOCAL_SERVER_KEY
    return LlmConfig(
        model=model,
        base_url=base_url,
        api_key=key,
        timeout=_bounded(env, "LUCINE_LLM_TIMEOUT", 15.0, 0.1, 600),
        max_retries=int(_bounded(env, "LUCINE_LLM_MAX_RETRIES", 1, 0, 10)),
        temperature=_bounded(env, "LUCINE_LLM_TEMPERATURE", 0.2, 0, 2),
        max_output_tokens=int(_bounded(env, "LUCINE_LLM_MAX_OUTPUT_TOKENS", 300, 16, 4096)),
        history_turns=int(_bounded(env, "LUCINE_LLM_HISTORY_TURNS", 6, 0, 50)),
        session_token_budget=int(
            _bounded(env, "LUCINE_LLM_SESSION_TOKEN_BUDGET", 20_000, 0, 10_000_000)
        ),
        stream=_bool(env, "LUCINE_LLM_STREAM", default=False),
        json_mode=_bool(env, "LUCINE_LLM_JSON_MODE", default=True),
    )


EMBEDDING_BACKENDS = ("bundled", "openai", "off")


@attrs.frozen(kw_only=True)
class EmbeddingsConfig:
    """Which sentence encoder ranks knowledge-base items by meaning.

    Attributes:
        backend: ``bundled`` (the multilingual encoder inside the package, offline; the
            default), ``openai`` (the ``/v1/embeddings`` endpoint of an OpenAI-compatible
            server) or ``off`` (BM25 alone).
        model: The server's embedding model (``openai`` only).
        base_url: The server's OpenAI-compatible root (``.../v1``); None means OpenAI.
        api_key: The server's key.
        timeout: Seconds for one request.
        max_retries: Extra attempts on timeouts, 429 and 5xx.
    """

    backend: str = "bundled"
    model: str = ""
    base_url: str | None = None
    api_key: str = attrs.field(default="", repr=False)
    timeout: float = 5.0
    max_retries: int = 1


def _embeddings(env: Mapping[str, str]) -> EmbeddingsConfig:
    """The encoder from ``LUCINE_EMBEDDINGS`` and its ``LUCINE_EMBEDDINGS_*`` settings."""
    backend = env.get("LUCINE_EMBEDDINGS", "").strip().lower() or "bundled"
    if backend not in EMBEDDING_BACKENDS:
        raise ValidationError(field="LUCINE_EMBEDDINGS", reason="must be bundled, openai or off")
    if backend != "openai":
        return EmbeddingsConfig(backend=backend)
    model = env.get("LUCINE_EMBEDDINGS_MODEL", "").strip()
    if not model:
        raise ValidationError(
            field="LUCINE_EMBEDDINGS_MODEL", reason="is needed with LUCINE_EMBEDDINGS=openai"
        )
    base_url = env.get("LUCINE_EMBEDDINGS_BASE_URL", "").strip().rstrip("/") or None
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise ValidationError(field="LUCINE_EMBEDDINGS_BASE_URL", reason="must be an http(s) URL")
    key = env.get("LUCINE_EMBEDDINGS_API_KEY") or env.get("OPENAI_API_KEY") or ""
    if not key and base_url is None:
        raise ValidationError(
            field="LUCINE_EMBEDDINGS_API_KEY",
            reason="is needed for OpenAI (or set LUCINE_EMBEDDINGS_BASE_URL to a local server)",
        )
    return EmbeddingsConfig(
        backend=backend,
        model=model,
        base_url=base_url,
        api_key=key or LOCAL_SERVER_KEY,
        timeout=_bounded(env, "LUCINE_EMBEDDINGS_TIMEOUT", 5.0, 0.1, 120),
        max_retries=int(_bounded(env, "LUCINE_EMBEDDINGS_MAX_RETRIES", 1, 0, 10)),
    )


@attrs.frozen(kw_only=True)
class Settings:
    """Everything configurable, with defaults that run Lucine offline with no keys.

    Attributes:
        data_dir: Where files live (database, secret key).
        database_url: SQLAlchemy URL (``postgresql+psycopg://...``); None means the
            embedded SQLite file ``lucine.sqlite3`` in ``data_dir``.
        db_pool_size: Connections per process (Postgres).
        secret_key: Signing key for operator tokens (LUCINE_SECRET_KEY, at least 32
            bytes); None means the key file in ``data_dir``, made on first run.
        redis_url: Redis for limits shared by every worker (REDIS_URL); None keeps them
            per process.
        kb_path: A knowledge-base file (JSON or CSV) that seeds a database that never had a
            knowledge base; the shipped sample when None.
        min_confidence: Retrieval confidence below which the assistant offers a human;
            the retrieval engine's calibrated default when None.
        auto_assign: Hand waiting chats to operators round-robin.
        timezone: The shop's time zone (what "today" means in stats).
        bcrypt_rounds: bcrypt cost (12; lower only in tests).
        llm: The OpenAI-compatible model that answers; None answers offline.
        embeddings: The sentence encoder of semantic retrieval.
        notify: The notification channels (webhook, e-mail, SMS) and their routing;
            none configured means the log alone.
    """

    data_dir: Path
    secret_key: bytes | None = None
    redis_url: str | None = None
    database_url: str | None = None
    db_pool_size: int = 10
    kb_path: Path | None = None
    min_confidence: float | None = None
    auto_assign: bool = True
    timezone: str = "Europe/Rome"
    bcrypt_rounds: int = 12
    llm: LlmConfig | None = None
    embeddings: EmbeddingsConfig = attrs.Factory(EmbeddingsConfig)
    notify: NotifyConfig = attrs.Factory(NotifyConfig)

    @property
    def resolved_database_url(self) -> str:
        """The database to use: DATABASE_URL, else the embedded SQLite file."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'lucine.sqlite3'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``LUCINE_*`` variables (from ``os.environ`` by default).

        Raises:
            ValidationError: a variable has a value that cannot be used, named in ``field``.
        """
        env = environment(environ)
        kb = env.get("LUCINE_KB")
        url = env.get("DATABASE_URL") or None
        if url is not None:
            url = normalise_database_url(url)
        pool = _float(env, "LUCINE_DB_POOL_SIZE")
        if pool is not None and not (1 <= pool <= 200 and pool == int(pool)):  # noqa: PLR2004
            raise ValidationError(
                field="LUCINE_DB_POOL_SIZE", reason="must be a whole number 1-200"
            )
        secret = env.get("LUCINE_SECRET_KEY") or None
        if secret is not None and len(secret.encode()) < 32:  # noqa: PLR2004 - HS256 key size
            raise ValidationError(field="LUCINE_SECRET_KEY", reason="must be at least 32 bytes")
        return cls(
            data_dir=default_data_dir(env),
            secret_key=secret.encode() if secret else None,
            redis_url=env.get("REDIS_URL") or None,
            database_url=url,
            db_pool_size=int(pool) if pool is not None else 10,
            kb_path=Path(kb) if kb else None,
            min_confidence=_float(env, "LUCINE_MIN_CONFIDENCE"),
            auto_assign=_bool(env, "LUCINE_AUTO_ASSIGN", default=True),
            timezone=env.get("LUCINE_TIMEZONE", "Europe/Rome"),
            llm=_llm(env),
            embeddings=_embeddings(env),
            notify=notify_config(env),
        )
