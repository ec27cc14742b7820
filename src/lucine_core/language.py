"""Guess which of the supported languages a visitor's message is written in.

A deterministic vote: every word found in a language's table of frequent words counts
for that language, and letters only one language uses (umlauts, Italian accented vowels)
count double. It is meant for chat messages that are often one or two words long, where
statistical detectors are unreliable; when the evidence is absent or tied, the caller's
fallback (the session's previous language) wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from lucine_core.enums import Language
from lucine_core.text import fold

__all__ = ["detect_language"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words are stored folded (see `fold`), so "perché" is "perche" and "schön" is "schon".
# Words common to two languages ("a", "i", "in", "come", "was", "so", "da", "no") are
# left out on purpose: they would only add noise. A trailing apostrophe marks an elided
# or contracted first half: Italian "l'ingresso" and English "don't" both split there.
WORDS: Mapping[Language, frozenset[str]] = MappingProxyType(
    {
        Language.IT: _words(
            """
            il lo la gli le un una uno di del dello della dei degli delle al allo alla ai
            agli alle dal dalla dai nel nella nei sul sulla sui con per tra fra che chi
            cosa non sono sei siamo siete ho hai ha abbiamo avete hanno e ed o ma anche
            quando dove perche quanto quanti quanta quante quale quali qual posso puoi
            puo possiamo potete vorrei voglio vogliamo volevo si ci mi ti vi ne questo
            questa questi queste quello quella mio mia miei tuo tua vostro vostra nostro
            nostra molto tutto tutti tutte ancora gia sempre oggi domani stasera ieri
            sabato domenica venerdi natale luci grazie ciao buongiorno buonasera salve
            prego arrivederci biglietto biglietti orari orario aperto aperti aperta
            chiuso chiude apre aprite ingresso parcheggio bambini bambino figlio figli
            prezzo prezzi costo costa costano mille famiglia ridotto intero navetta
            passeggino passeggini cani cane pioggia piove rimborso operatore persona
            persone essere fare avere bene bello bella allora pero piu cosi solo servizio
            pessimo vergogna scusa scusate aiuto informazioni ordine posti data
            l' c' dell' nell' all' dall' sull' un' quest' dov' po' d' com' cos' e'
            perche' piu' puo' anch'
            """
        ),
        Language.EN: _words(
            """
            the and or of to is are were be been do does did have has had can could
            would should you your my we our it this that these those there what when
            where how why who which with for from at on please thanks thank hello hi hey
            yes not any some if but just also here still tonight today tomorrow
            saturday sunday friday christmas lights ticket tickets open opening close
            time times price prices parking kids children child family refund help
            want need get buy much many people human real operator support
            sorry dogs dog stroller strollers wheelchair entrance bring book booked
            booking very really about never ever again absolutely worst great
            i' don' can' it' isn' doesn' didn' won' you' we' they' that' what'
            there' let' wasn' aren' couldn' wouldn' dont cant thx
            """
        ),
        Language.DE: _words(
            """
            der die das dem den des ein eine einen einem einer und oder ist sind bin
            bist ich du sie wir ihr es nicht kein keine keinen mit fur fuer auf aus bei
            von zu zum zur im wie wo wann warum wer welche welches welcher kann
            konnen koennen mochte moechte mochten bitte danke dank vielen hallo guten
            tag abend morgen gibt noch auch schon schoen sehr viel viele karten karte
            eintritt kinder kind kinderwagen hund hunde parkplatz parkplatze
            parkplaetze offnungszeiten oeffnungszeiten uhr heute samstag sonntag
            weihnachten preis kostet kosten geld zuruck zurueck mitarbeiter mensch
            menschen sprechen reden jemand jemandem ja nein gern gerne tschuss hat
            haben habe uns man mein meine ihnen ihre euch mal doch aber ob wenn dass
            nur hilfe brauche frage fragen bekommen als mir dir sich mich dich wird
            werden leider dazu nach uber ueber geht gehen kommen
            """
        ),
    }
)

# Letters that, in this trio, only one language writes; a word containing one counts double.
LETTERS: Mapping[Language, str] = MappingProxyType(
    {
        Language.IT: "àèéìòù",
        Language.DE: "äöüß",
    }
)

_LETTER_WEIGHT = 2
# A word, optionally ending in an apostrophe ("l'", "don'"), or a bare word after one.
_TOKEN = re.compile(r"[^\W\d_]+'?")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold().replace("\u2019", "'"))


def _scores(text: str) -> dict[Language, int]:
    scores = dict.fromkeys(Language, 0)
    for token in _tokens(text):
        folded = fold(token)
        for language, words in WORDS.items():
            if folded in words:
                scores[language] += 1
        for language, letters in LETTERS.items():
            if any(letter in token for letter in letters):
                scores[language] += _LETTER_WEIGHT
    return scores


def detect_language(text: str, fallback: Language = Language.IT) -> Language:
    """Return the language ``text`` is most likely written in.

    Args:
        text: A visitor's message, as typed.
        fallback: What to return without a clear winner; pass the session's previous
            language so that "ok" or "123" does not switch the conversation.

    Returns:
        The language with the most evidence, or ``fallback`` when no language has any
        evidence or the best two are tied.

    >>> detect_language("Ciao, a che ora aprite?")
    <Language.IT: 'it'>
    >>> detect_language("ok?", fallback=Language.DE)
    <Language.DE: 'de'>
    """
    scores = _scores(text)
    best = max(scores.values())
    leaders = [language for language, score in scores.items() if score == best]
    if best == 0 or len(leaders) > 1:
        return fallback
    return leaders[0]
