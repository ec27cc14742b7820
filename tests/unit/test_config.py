"""Settings from the environment and an optional TOML file; bad values are named errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.settings import Settings
from lucine_core.errors import ValidationError
from lucine_http.app import create_app
from lucine_http.config import HttpConfig


def test_toml_file_fills_in_what_the_environment_does_not_set(tmp_path: Path) -> None:
    """LUCINE_CONFIG's values apply, and an environment variable wins over the file."""
    config = tmp_path / "lucine.toml"
    config.write_text(
        'database_url = "postgres://u@db/lucine"\n'
        'lucine_cors_origins = "https://shop.example"\n'
        "lucine_auto_assign = false\n"
        "lucine_chat_limit_per_minute = 30\n"
    )
    env = {"LUCINE_CONFIG": str(config), "LUCINE_CHAT_LIMIT_PER_MINUTE": "12"}
    settings = Settings.from_env(env)
    assert settings.database_url == "postgresql+psycopg://u@db/lucine"
    assert settings.auto_assign is False
    http = HttpConfig.from_env(env)
    assert http.cors_origins == ("https://shop.example",)
    assert http.chat_limit.count == 12


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"LUCINE_SECRET_KEY": "short"}, "LUCINE_SECRET_KEY"),
        ({"LUCINE_AUTO_ASSIGN": "maybe"}, "LUCINE_AUTO_ASSIGN"),
        ({"LUCINE_DB_POOL_SIZE": "0"}, "LUCINE_DB_POOL_SIZE"),
        ({"LUCINE_CONFIG": "/nonexistent/lucine.toml"}, "LUCINE_CONFIG"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], field: str) -> None:
    """An unusable value raises ValidationError naming the variable."""
    with pytest.raises(ValidationError) as caught:
        Settings.from_env(env)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"LUCINE_TRUSTED_PROXIES": "not-an-ip"}, "LUCINE_TRUSTED_PROXIES"),
        ({"LUCINE_CHAT_LIMIT_PER_MINUTE": "-3"}, "LUCINE_CHAT_LIMIT_PER_MINUTE"),
    ],
)
def test_bad_http_settings_name_the_variable(env: dict[str, str], field: str) -> None:
    """HTTP settings are checked the same way."""
    with pytest.raises(ValidationError) as caught:
        HttpConfig.from_env(env)
    assert caught.value.field == field


def test_metrics_count_requests_chats_and_responder_latency() -> None:
    """/metrics reports requests by route, chats by state, queue length and responder latency."""
    with TestClient(create_app(bootstrap_in_memory())) as client:
        client.post("/api/chat", json={"message": "parcheggio?"})
        text = client.get("/metrics").text
    assert 'lucine_http_requests_total{method="POST",route="/api/chat",status="200"} 1.0' in text
    assert 'lucine_chats{state="ACTIVE"} 1.0' in text
    assert "lucine_queue_length 0.0" in text
    assert 'lucine_responder_seconds_count{outcome="ok"} 1.0' in text


def test_the_bundled_encoder_is_the_default_and_off_switches_to_words_only() -> None:
    """No variable: the bundled encoder; `off`: BM25 alone, with its own threshold."""
    assert Settings.from_env({}).embeddings.backend == "bundled"
    assert Settings.from_env({"LUCINE_EMBEDDINGS": "OFF"}).embeddings.backend == "off"


def test_an_embeddings_server_is_configured_from_its_variables() -> None:
    """`openai` with a model and a local URL needs no key; the timeout is read."""
    config = Settings.from_env(
        {
            "LUCINE_EMBEDDINGS": "openai",
            "LUCINE_EMBEDDINGS_MODEL": "nomic-embed-text",
            "LUCINE_EMBEDDINGS_BASE_URL": "http://127.0.0.1:11434/v1/",
            "LUCINE_EMBEDDINGS_TIMEOUT": "2.5",
        }
    ).embeddings
    assert (config.model, config.base_url, config.timeout) == (
        "nomic-embed-text",
        "http://127.0.0.1:11434/v1",
        2.5,
    )
    assert config.api_key


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"LUCINE_EMBEDDINGS": "word2vec"}, "LUCINE_EMBEDDINGS"),
        ({"LUCINE_EMBEDDINGS": "openai"}, "LUCINE_EMBEDDINGS_MODEL"),
        (
            {"LUCINE_EMBEDDINGS": "openai", "LUCINE_EMBEDDINGS_MODEL": "m"},
            "LUCINE_EMBEDDINGS_API_KEY",
        ),
        (
            {
                "LUCINE_EMBEDDINGS": "openai",
                "LUCINE_EMBEDDINGS_MODEL": "m",
                "LUCINE_EMBEDDINGS_BASE_URL": "ftp://x",
            },
            "LUCINE_EMBEDDINGS_BASE_URL",
        ),
        (
            {
                "LUCINE_EMBEDDINGS": "openai",
                "LUCINE_EMBEDDINGS_MODEL": "m",
                "LUCINE_EMBEDDINGS_API_KEY": "k",
                "LUCINE_EMBEDDINGS_TIMEOUT": "0",
            },
            "LUCINE_EMBEDDINGS_TIMEOUT",
        ),
    ],
)
def test_bad_embeddings_settings_name_the_variable(env: dict[str, str], field: str) -> None:
    """An unusable value is refused naming the variable to fix."""
    with pytest.raises(ValidationError) as caught:
        Settings.from_env(env)
    assert caught.value.field == field
