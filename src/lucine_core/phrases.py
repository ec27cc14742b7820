"""What the assistant and the system say to visitors, in Italian, English and German.

One table: adding a language is adding a column, changing a sentence is one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from lucine_core.enums import Language

__all__ = ["PHRASES", "say"]

_IT, _EN, _DE = Language.IT, Language.EN, Language.DE

PHRASES: Mapping[str, Mapping[Language, str]] = MappingProxyType(
    {
        "offer_human": {
            _IT: "Certo! Vuoi che ti metta in contatto con un operatore?",
            _EN: "Of course! Would you like me to connect you with an operator?",
            _DE: "Natürlich! Soll ich Sie mit einem Mitarbeiter verbinden?",
        },
        "responder_failed": {
            _IT: "Mi dispiace, in questo momento non riesco a rispondere. "
            "Vuoi parlare con un operatore?",
            _EN: "Sorry, I can't answer right now. Would you like to talk to an operator?",
            _DE: "Entschuldigung, ich kann gerade nicht antworten. "
            "Möchten Sie mit einem Mitarbeiter sprechen?",
        },
        "not_sure": {
            _IT: "Non sono sicuro di avere la risposta giusta a questa domanda. "
            "Vuoi parlare con un operatore?",
            _EN: "I'm not sure I have the right answer to that. "
            "Would you like to talk to an operator?",
            _DE: "Ich bin mir nicht sicher, ob ich darauf die richtige Antwort habe. "
            "Möchten Sie mit einem Mitarbeiter sprechen?",
        },
        "continue_ai": {
            _IT: "Va bene, continuiamo! Chiedimi pure quello che vuoi sapere.",
            _EN: "All right, let's carry on! Ask me anything you'd like to know.",
            _DE: "In Ordnung, machen wir weiter! Fragen Sie mich gerne.",
        },
        "queued": {
            _IT: "Ti sto mettendo in contatto con un operatore. "
            "Sei in coda in posizione {position}.",
            _EN: "I'm connecting you with an operator. You are number {position} in the queue.",
            _DE: "Ich verbinde Sie mit einem Mitarbeiter. "
            "Sie sind Nummer {position} in der Warteschlange.",
        },
        "no_operator": {
            _IT: "Al momento non ci sono operatori disponibili. Lasciaci il tuo contatto "
            "(email o telefono) e ti risponderemo il prima possibile.",
            _EN: "No operator is available right now. Leave us your e-mail or phone number "
            "and we will get back to you as soon as possible.",
            _DE: "Im Moment ist kein Mitarbeiter verfügbar. Hinterlassen Sie uns Ihre E-Mail "
            "oder Telefonnummer, wir melden uns so bald wie möglich.",
        },
        "operator_joined": {
            _IT: "{name} si è unito alla chat.",
            _EN: "{name} has joined the chat.",
            _DE: "{name} ist dem Chat beigetreten.",
        },
        "transferred": {
            _IT: "Ora ti segue {name}.",
            _EN: "{name} is now looking after you.",
            _DE: "{name} betreut Sie jetzt weiter.",
        },
        "handed_back": {
            _IT: "Sei di nuovo con l'assistente virtuale. Scrivi pure se hai altre domande.",
            _EN: "You are back with the virtual assistant. Feel free to ask anything else.",
            _DE: "Sie sind wieder beim virtuellen Assistenten. Fragen Sie gerne weiter.",
        },
        "closed": {
            _IT: "La chat è stata chiusa. Com'è andata? Lasciaci una valutazione da 1 a 5.",
            _EN: "The chat has been closed. How did we do? Please rate us from 1 to 5.",
            _DE: "Der Chat wurde beendet. Wie war es? Bitte bewerten Sie uns von 1 bis 5.",
        },
        "timeout": {
            _IT: "Sei ancora lì? La chat resta aperta: scrivi quando vuoi per riprendere.",
            _EN: "Are you still there? The chat stays open: write whenever you want to continue.",
            _DE: "Sind Sie noch da? Der Chat bleibt offen: Schreiben Sie, um fortzufahren.",
        },
        "ticket_confirmation_subject": {
            _IT: "Richiesta n. {ticket} ricevuta",
            _EN: "Request no. {ticket} received",
            _DE: "Anfrage Nr. {ticket} erhalten",
        },
        "ticket_confirmation_body": {
            _IT: "Grazie, abbiamo ricevuto la tua richiesta n. {ticket}:\n\n{message}\n\n"
            "Ti risponderemo al più presto.",
            _EN: "Thank you, we have received your request no. {ticket}:\n\n{message}\n\n"
            "We will reply as soon as we can.",
            _DE: "Danke, wir haben Ihre Anfrage Nr. {ticket} erhalten:\n\n{message}\n\n"
            "Wir antworten so bald wie möglich.",
        },
        "ticket_created": {
            _IT: "Grazie! Abbiamo registrato la tua richiesta (n. {ticket}). "
            "Ti ricontatteremo a {contact}.",
            _EN: "Thank you! We have logged your request (no. {ticket}). "
            "We will contact you at {contact}.",
            _DE: "Danke! Wir haben Ihre Anfrage erfasst (Nr. {ticket}). "
            "Wir melden uns unter {contact}.",
        },
    }
)


def say(key: str, language: Language, **values: object) -> str:
    """The phrase ``key`` in ``language`` (Italian if missing), with ``values`` filled in."""
    table = PHRASES[key]
    return table.get(language, table[Language.IT]).format(**values)
