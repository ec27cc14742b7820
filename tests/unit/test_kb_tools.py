"""The shop owner's knowledge-base tools: `lucine kb eval`, `calibrate` and `gaps`.

Also the pieces they rest on: labelled-message files, multi-part questions, the
logistic fit, and the gaps use case over real chats (in-memory adapters).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.kb.calibration import Sample, fit, fit_logistic
from lucine_adapters.kb.evalset import parse_cases
from lucine_adapters.kb.hybrid import split_question
from lucine_adapters.responders import KbResponder
from lucine_cli.main import app
from lucine_core.enums import Language
from lucine_core.errors import ValidationError
from lucine_core.kb import AnswerRequest, KnowledgeBaseItem, RetrievedItem
from lucine_core.services.chat import visitor_message
from lucine_core.services.gaps import knowledge_gaps

runner = CliRunner()

KB = [
    {"id": "orari", "question": "A che ora aprite?", "answer": "Dalle 9 alle 17.", "keywords": []},
    {"id": "prezzi", "question": "Quanto costa l'ingresso?", "answer": "12 euro.", "keywords": []},
    {
        "id": "parcheggio",
        "question": "Dove posso parcheggiare?",
        "answer": "Al parcheggio P1, gratuito.",
        "keywords": ["auto"],
    },
]
CASES = [
    {"q": "a che ora aprite domani?", "expect": "orari", "kind": "paraphrase", "lang": "it"},
    {"q": "quanto costa l'ingresso?", "expect": "prezzi", "kind": "paraphrase", "lang": "it"},
    {"q": "voglio parlare con un operatore", "expect": "ESCALATE", "kind": "human"},
    {"q": "chi ha vinto la partita ieri sera?", "expect": "ESCALATE", "kind": "offtopic"},
    {
        "q": "quanto costa l'ingresso e dove posso parcheggiare?",
        "expect": ["prezzi", "parcheggio"],
        "kind": "multipart",
    },
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    kb = tmp_path / "kb.json"
    kb.write_text(json.dumps(KB), encoding="utf-8")
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps(c) for c in CASES) + "\n", encoding="utf-8")
    return kb, cases


def test_kb_eval_reports_every_figure_as_json(files: tuple[Path, Path]) -> None:
    """`kb eval --json` counts the answerable and the escalating cases apart, by kind."""
    kb, cases = files
    result = runner.invoke(app, ["kb", "eval", str(cases), "--kb", str(kb), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["top1"]["total"] == 3
    assert data["escalated"]["total"] == 2
    assert data["needless_offers"]["total"] == 3
    assert set(data["by_kind"]) == {"paraphrase", "human", "offtopic", "multipart"}
    assert data["by_kind"]["human"] == {"right": 1, "total": 1, "share": 1.0}
    assert data["by_kind"]["paraphrase"]["right"] == 2
    assert data["by_language"]["it"]["total"] == 2
    assert len(data["misses"]) == 5 - sum(k["right"] for k in data["by_kind"].values())
    assert sum(b["count"] for b in data["calibration"]) <= 5


def test_kb_eval_prints_a_table_with_the_misses(files: tuple[Path, Path], tmp_path: Path) -> None:
    """The text report names each figure; a miss shows what was expected and chosen."""
    kb, _ = files
    cases = tmp_path / "wrong.jsonl"
    cases.write_text(json.dumps({"q": "a che ora aprite?", "expect": "prezzi"}) + "\n")
    result = runner.invoke(app, ["kb", "eval", str(cases), "--kb", str(kb)])
    assert result.exit_code == 0, result.output
    assert "top-1 right (answerable)      0.0 % (0/1)" in result.output
    assert "expected prezzi, got orari" in result.output


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{", "not JSON"),
        ('["q"]', "JSON object"),
        ('{"expect": "orari"}', '"q"'),
        ('{"q": "x", "expect": 3}', '"expect"'),
        ('{"q": "x", "expect": []}', '"expect"'),
        ('{"q": "x", "expect": "orari", "lang": "fr"}', '"lang"'),
    ],
)
def test_a_bad_case_file_exits_2_with_one_line_naming_the_line(
    files: tuple[Path, Path], tmp_path: Path, line: str, needle: str
) -> None:
    """A malformed line is refused with its file and line number; nothing is evaluated."""
    kb, _ = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(CASES[0]) + "\n" + line + "\n")
    result = runner.invoke(app, ["kb", "eval", str(bad), "--kb", str(kb)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert f"{bad}:2" in result.output
    assert needle in result.output


def test_an_empty_case_file_is_refused() -> None:
    """A file without a case is an error rather than a 0 % report."""
    with pytest.raises(ValidationError):
        parse_cases("\n\n")


def test_kb_calibrate_prints_the_table_weights_and_threshold(files: tuple[Path, Path]) -> None:
    """`kb calibrate` fits on the cases and prints what to commit."""
    kb, cases = files
    many = cases.read_text() * 3
    cases.write_text(many)
    result = runner.invoke(app, ["kb", "calibrate", str(cases), "--kb", str(kb)])
    assert result.exit_code == 0, result.output
    assert "confidence   count   mean   right" in result.output
    assert "hybrid weights:" in result.output
    assert "threshold:" in result.output


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("quanto costa e dove parcheggio?", ["quanto costa", "dove parcheggio"]),
        ("Quanto costa? Dove si parcheggia?", ["quanto costa", "dove si parcheggia"]),
        ("how much is it and where do I park?", ["how much is it", "where do i park"]),
        ("Was kostet das und wo kann ich parken?", ["was kostet das", "wo kann ich parken"]),
        ("lezioni di sci e snowboard per bambini", []),
        ("quanto costa?", []),
        ("ciao! quanto costa?", []),
    ],
)
def test_split_question(text: str, parts: list[str]) -> None:
    """Questions split at question marks and at a conjunction opening a new question."""
    assert split_question(text) == parts


async def test_the_offline_responder_answers_each_part_citing_both() -> None:
    """Hits marked as parts 1 and 2, both confident, give both answers and both sources."""
    price = KnowledgeBaseItem(id="prezzi", question="Quanto costa?", answer="12 euro.")
    park = KnowledgeBaseItem(id="parcheggio", question="Dove parcheggio?", answer="Al P1.")
    request = AnswerRequest(
        question="quanto costa e dove parcheggio?",
        language=Language.IT,
        retrieved=(
            RetrievedItem(item=price, score=0.8, part=1),
            RetrievedItem(item=park, score=0.7, part=2),
        ),
    )
    answer = await KbResponder(0.5).answer(request)
    assert answer.sources == ("prezzi", "parcheggio")
    assert answer.text == "12 euro.\n\nAl P1."
    assert answer.confidence == 0.7
    unsure = await KbResponder(0.75).answer(request)
    assert unsure.sources == ("prezzi",)


def test_the_logistic_fit_recovers_a_known_relation() -> None:
    """On data drawn from a logistic model, the fit finds weights near the true ones."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4000, 2))
    p = 1 / (1 + np.exp(-(0.5 + 2.0 * x[:, 0] - 1.0 * x[:, 1])))
    y = (rng.random(4000) < p).astype(np.float64)
    weights = fit_logistic(x, y)
    assert np.allclose(weights, [0.5, 2.0, -1.0], atol=0.2)


def test_the_fit_chooses_a_threshold_between_right_and_wrong_hits() -> None:
    """Right hits with high similarity and wrong ones with low: the threshold separates them."""
    right = [
        Sample(features=(0.8 + d, 0.5, 0.2, 0.3), lexical=0.6, right=True) for d in (0, 0.05, 0.1)
    ]
    wrong = [
        Sample(features=(0.3 + d, 0.0, 0.0, 0.0), lexical=0.1, right=False) for d in (0, 0.05, 0.1)
    ]
    result = fit((right + wrong) * 3)
    assert result.mistakes == 0
    assert all(result.calibration.probability(s.features) >= result.threshold for s in right)
    assert all(result.calibration.probability(s.features) < result.threshold for s in wrong)
    with pytest.raises(ValueError, match="at least 10"):
        fit(right)


async def test_gaps_group_the_questions_the_assistant_could_not_answer() -> None:
    """Unanswered questions are grouped by meaning, largest first; answered ones are left out."""
    price = KnowledgeBaseItem(
        id="prezzi", question="Quanto costa il biglietto?", answer="12 euro.", keywords=("prezzo",)
    )
    services = bootstrap_in_memory(kb_items=[price])
    questions = [
        "Posso far volare un drone sopra le luci?",
        "è permesso usare il drone per fare riprese?",
        "si può portare un drone?",
        "cercate personale per la stagione?",
        "quanto costa il biglietto?",
        "voglio parlare con un operatore",
    ]
    for question in questions:
        await visitor_message(services, session_id=None, text=question)
    groups = await knowledge_gaps(services)
    texts = [[gap.text for gap in group.examples] for group in groups]
    flat = [text for group in texts for text in group]
    assert "quanto costa il biglietto?" not in flat
    assert "voglio parlare con un operatore" not in flat
    assert groups[0].count == 3
    assert set(texts[0]) == set(questions[:3])
    assert ["cercate personale per la stagione?"] in texts


def test_kb_gaps_lists_grouped_questions_from_a_seeded_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lucine dev seed` then `lucine kb gaps`: the seeded unanswered questions, grouped."""
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    seeded = runner.invoke(app, ["dev", "seed", "--sessions", "300", "--seed", "3"])
    assert seeded.exit_code == 0, seeded.output
    result = runner.invoke(app, ["kb", "gaps", "--days", "90", "--json"])
    assert result.exit_code == 0, result.output
    groups = json.loads(result.output)
    assert len(groups) >= 3
    counts = [group["count"] for group in groups]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] >= 2
    examples = {text for group in groups for text in group["examples"]}
    assert examples & {
        "Cercate personale per la stagione?",
        "Posso far volare un drone sopra le luci?",
    }
    text = runner.invoke(app, ["kb", "gaps", "--days", "90"])
    assert text.exit_code == 0
    assert text.output.splitlines()[0].strip().startswith(str(counts[0]))
