"""The phrases that make the assistant offer a human, as data: one table per kind and language.

Every pattern is a regular expression matched against the *folded* text (see
`lucine_core.text.fold`): lower case, no accents, "ß" as "ss", single spaces, and the
typographic apostrophe replaced by "'". Write patterns the same way, with word boundaries.
Adding a language means adding one entry under each kind; nothing else changes.

Each pattern is anchored on a request, an emotion or a hedge, never on a bare noun:
visitors ask *about* operators, staff, people and support ("l'operatore del parcheggio",
"quante persone per biglietto famiglia", "support for strollers") far more often than
they ask *for* them. The corpus in tests/data/escalation_corpus.json holds such cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from lucine_core.enums import Language

__all__ = ["ASKS_HUMAN", "KINDS", "PATTERNS", "UNSURE", "UPSET"]

ASKS_HUMAN = "asks_human"
UPSET = "upset"
UNSURE = "unsure"
KINDS = (ASKS_HUMAN, UPSET, UNSURE)

# Up to a few filler words, elided articles included ("con l'assistenza", "to a member of").
_GAP2 = r"(?:\w+'\s*|\w+\s+){0,2}?"
_GAP3 = r"(?:\w+'\s*|\w+\s+){0,3}?"

# Only adverbs may sit between "talk" and "with": "speak English with the staff" is no request.
_IT_ADVERB = r"(?:(?:direttamente|subito|adesso|ora|urgentemente|un attimo|un momento)\s+)?"
_EN_ADVERB = r"(?:(?:directly|now|please|urgently|actually|personally|right now)\s+)?"

_IT_HUMAN = (
    r"(?:operat\w*|persona\b|umano|essere umano|qualcuno|responsabil\w*|collaborat\w*"
    r"|addett\w*|staff|assistenza|servizio clienti|agente|consulente|voi\b)"
)
_EN_HUMAN = (
    r"(?:human|(?:real |actual )?person\b|operator|agent|someone|somebody|representative"
    r"|rep\b|(?:member of )?staff|manager|supervisor|customer (?:service|care|support)"
    r"|support|real people)"
)
_DE_HUMAN = (
    r"(?:mitarbeiter\w*|mensch\w*|person\b|jemand\w*|operator\w*|berater\w*|kundenservice"
    r"|kundendienst|support|ansprechpartner\w*|verantwortlich\w*|service)"
)

_ASKS_HUMAN: Mapping[Language, tuple[str, ...]] = {
    Language.IT: (
        # Infinitive only: "ho parlato con un operatore ieri" tells a story, asks nothing.
        rf"\bparlar(?:e|ci|mi)\s+{_IT_ADVERB}co?n\s+{_GAP3}{_IT_HUMAN}",
        rf"\bin contatto con\s+{_GAP3}{_IT_HUMAN}",
        r"\b(?:voglio|vorrei|chiedo|richiedo|cerco|mi serve|serve|servirebbe|avere|pass[ai]\w*"
        r"|chiama\w*|preferisco|desidero|bisogno di)\s+(?:[\w]+\s+){0,3}?(?:operat\w*"
        r"|persona\s+(?:vera|reale|fisica|umana)|umano|essere umano|responsabil\w*|collaborat\w*"
        r"|assistenza umana|qualcuno)",
        # "operatore", "OPERATORE!!", "operatre per favore": the whole message is the request.
        r"^\W*(?:un\s+)?operat\w*(?:\s+(?:per favore|per piacere|subito|grazie|pls|please))?\W*$",
        r"\b(?:c\W?\s?e|ce|avete|ci sono)\s+(?:un\s+|qualche\s+|degli\s+|un'\s*)?"
        r"(?:operat\w*|persona|umano|qualcuno)\s+(?:disponibil\w*|in chat|online|liber\w*|vero"
        r"|reale|in carne)",
        r"\b(?:c\W?\s?e|ce|avete)\s+(?:un\s+)?(?:essere umano|umano|operat\w*)\s*\?",
        r"\bin carne e ossa\b",
        r"\bqualcuno\s+(?:[\w']+\s+){0,3}?che\s+(?:mi|ci)\s+(?:\w+\s+)?(?:rispond|aiut|richiam)\w*",
        r"\b(?:assistenza|aiuto)\s+(?:da|di)\s+(?:una\s+|un\s+)?(?:persona|operat\w*|umano)",
        r"\b(?:operatore|assistenza|persona)\s+(?:umana|umano|reale|vera|vero)\b",
        r"\bnon\s+(?:voglio|vorrei)\s+(?:parlare\s+con\s+|chattare\s+con\s+)?(?:un\s+|una\s+)?"
        r"(?:bot|robot|chatbot|macchina|ia|intelligenza artificiale)\b",
        r"\b(?:mi|ci)\s+(?:\w+\s+)?richiama\w*|\brichiama\w*\s+qualcuno",
        r"\bcontattat[oaie]\s+da\b",
        # "qualcuno in ufficio con cui posso parlare", "parlare direttamente con lui".
        r"\b(?:qualcuno|una persona|un operatore)\s+(?:[\w']+\s+){0,4}?con\s+cui\s+"
        r"(?:\w+\s+){0,2}?parlar\w*",
        r"\bparlar(?:e|ci|gli|le)\s+direttamente\s+con\b",
        r"\bmi\s+pass(?:a|ate|i|ereste|eresti)\s+(?:il|la|l'|un|una)\s*\w+",
    ),
    Language.EN: (
        rf"\b(?:talk|speak|chat)\s+{_EN_ADVERB}(?:to|with)\s+{_GAP3}{_EN_HUMAN}",
        r"\b(?:get|give|want|need|connect|transfer|put)\s+(?:me\s+)?(?:\w+\s+){0,3}?"
        r"(?:human|real person|an? person\b|operator|agent|representative|customer service"
        r"|someone real|real human|actual person)",
        r"\b(?:human|real person|operator|agent|representative)\s*(?:please|pls|plz|now)\b",
        r"^\W*(?:human|operator|agent|representative)\W*$",
        r"\b(?:is there|are there|any)\s+(?:an?\s+|any\s+)?(?:agent|operator|human|real person"
        r"|person)s?\s+(?:available|online|free|there|i can)",
        r"\bis (?:any|some)(?:one|body) (?:there|real|available)\b",
        r"\b(?:someone|somebody) real\b",
    ),
    Language.DE: (
        rf"\bmit\s+{_GAP2}{_DE_HUMAN}\s+(?:\w+\s+){{0,2}}?(?:sprechen|reden|chatten|verbunden"
        r"|verbinden|telefonieren)",
        rf"\b(?:sprechen|reden|chatten)\s+mit\s+{_GAP2}{_DE_HUMAN}",
        r"\bverbind\w*\s+(?:sie\s+)?(?:mich|uns)\b",
        r"\b(?:brauche|mochte|moechte|will|wunsche)\s+(?:\w+\s+){0,2}?(?:mitarbeiter\w*|mensch\w*"
        r"|person|berater\w*|ansprechpartner\w*)\b",
        r"\b(?:mich|uns)\s+(?:\w+\s+){0,2}?(?:anrufen|zuruckrufen|kontaktieren)\b|\bruckruf\b",
        r"\b(?:echte[nmr]?|richtige[nmr]?|menschliche[nmr]?)\s+(?:mensch\w*|person|mitarbeiter"
        r"\w*)",
    ),
}

_UPSET: Mapping[Language, tuple[str, ...]] = {
    Language.IT: (
        r"\bvergogn\w*",
        r"\b(?:servizio|organizzazione|assistenza|esperienza|gestione)\s+(?:\w+\s+)?pessim\w*",
        r"\bpessim\w*\s+(?:servizio|organizzazione|assistenza|esperienza|gestione)",
        r"\b(?:sei|siete)\s+(?:\w+\s+)?pessim\w*",
        r"\b(?:ladri|ladro|truff\w*|scandal\w*|imbroglion\w*|denunc\w*|schif\w*|incompetent\w*"
        r"|incapac\w*|cialtron\w*|pagliacc\w*|buffon\w*|inaccettabil\w*|vergognos\w*|ridicol\w*)",
        # "assurdo" is also praise: "è assurdo quanto sono belle le luci".
        r"\bassurd[oa]\b(?!\s+(?:quanto|come|che\s+bell))",
        r"\b(?:sei|siete)\s+(?:proprio\s+|davvero\s+|completamente\s+)?inutil\w*",
        r"\bnon capisci (?:niente|nulla)\b",
        # First person or intensified: "mio marito era arrabbiato, ma tutto bene" is a story.
        r"\b(?:sono|siamo|sei|molto|troppo|davvero|veramente|proprio)\s+(?:\w+\s+)?"
        r"(?:arrabbiat|incazzat|incavolat|furios|indignat|esasperat|stuf)\w*",
        r"\b(?:state|stai)\s+scherzando\b|\bma scherziamo\b",
        r"\bdel (?:cavolo|cazzo|menga)\b|\b(?:cazz\w*|merda|stronz\w*|vaffanculo|fanculo)\b",
        r"\bche razza di\b|\bpres[ao] per (?:i fondelli|il culo)\b",
        r"\b(?:verro|vengo|torner\w*|tornero|compr\w*|consiglier\w*)\s+mai\s+piu\b",
        r"\brecension\w*\s+(?:\w+\s+)?negativ\w*",
        r"\b(?:sono|siamo|molto|davvero|veramente)\s+(?:\w+\s+)?delus\w*",
        r"\breclam\w*",
        r"\brimbors\w*\s+(?:\w+\s+)?(?:subito|immediat\w*|adesso|ora)\b",
        r"\brivoglio\s+(?:i\s+)?(?:miei\s+)?soldi\b",
        r"\b(?:avete|hai|mi avete|ci avete)\s+rubat\w*",
        r"\bpresa in giro\b|\bprendete in giro\b",
        r"\b(?:seconda|terza|quarta|quinta|decima|ennesima|centesima)\s+volta\s+che\b",
        r"\bnon\s+(?:mi\s+|ci\s+)?rispond(?:i|ete|e)\s+mai\b|\bnon\s+mi\s+rispond(?:i|ete|e)\b",
        r"\bnessuno\s+(?:mi\s+|ci\s+)?rispond\w*",
        r"\bbasta\s*!",
    ),
    Language.EN: (
        r"\b(?:ridiculous|scam\w*|fraud\w*|rip[- ]?off|ripped off|never again|unacceptable"
        r"|disgrace\w*|disgusting|pathetic|outrage\w*|incompetent|shameful)\b",
        r"\bworst\s+(?:\w+\s+){0,2}?(?:ever|service|experience|organi[sz]ation|event|support)",
        r"\b(?:you(?:'re| are)?|youre|so|totally|completely|absolutely)\s+useless\b",
        r"\b(?:i'm|i am|im|we're|we are|so|really|very|extremely|getting)\s+(?:\w+\s+)?"
        r"(?:angry|furious|pissed|fed up|livid|frustrated|annoyed|upset|mad)\b",
        r"\b(?:terrible|awful|horrible|appalling|shocking|poor|bad|lousy|crap|shit)\s+"
        r"(?:customer\s+)?(?:service|support|organi[sz]ation|experience)",
        r"\b(?:nobody|no one|no-one)\s+(?:ever\s+)?(?:answers|replies|responds|gets back)",
        r"\bcomplain\w*",
        r"\brefund\s+(?:\w+\s+)?(?:now|immediately|right now|asap|today)\b",
        r"\b(?:want|give me)\s+my money back\b",
        r"\b(?:you(?: guys)?(?:'re| are)|this is|that's|what a)\s+(?:a\s+)?(?:joke|farce)\b",
        r"\bshame on you\b",
    ),
    Language.DE: (
        r"\b(?:unverschamt\w*|frechheit|beschwer\w*|la(?:e)?cherlich\w*|betrug\w*|betruger\w*"
        r"|abzocke\w*|skandal\w*|unzumutbar|inakzeptabel|katastroph\w*|nutzlos|wutend|sauer"
        r"|verargert|unfreundlich\w*)\b",
        r"\bnie\s+wieder\b",
        r"\b(?:will|mochte|moechte|verlange|fordere)\s+(?:\w+\s+){0,2}geld\s+zur(?:u|ue)ck\b",
        r"\bschlechteste\w*\s+(?:\w+\s+)?(?:service|kundenservice|veranstaltung|organisation)",
    ),
}

_UNSURE: Mapping[Language, tuple[str, ...]] = {
    Language.IT: (
        r"\bnon\s+(?:ne\s+)?sono\s+(?:\w+\s+)?(?:sicur[oaie]|cert[oaie]|in grado)\b",
        r"\bnon\s+(?:ho|abbiamo|avere|avrei|dispongo|disponiamo|possiedo|trovo|ho trovato"
        r"|abbiamo trovato|riesco a trovare|conosco)\s+(?:\w+\s+){0,3}?(?:informazion\w*|dati"
        r"|dettagli|rispost\w*|notizie)",
        r"\bnon\s+(?:lo\s+)?so\b|\bnon\s+saprei\b",
        r"\bnon\s+(?:ho|abbiamo)\s+trovato\s+(?:nulla|niente)\b",
        r"\bnon\s+(?:ho|abbiamo)\s+accesso\b|\bnon\s+(?:ho|abbiamo)\s+(?:\w+\s+)?certezz\w*",
        r"\bchied\w*\s+(?:a|al|all'|allo)\s*(?:un\s+|uno\s+|nostr\w+\s+)?(?:operat\w*|assistenza"
        r"|supporto|servizio clienti)",
        r"\bparla\w*\s+con\s+(?:un\s+|uno\s+|il\s+|l'\s*|i\s+|gli\s+)?(?:nostr\w+\s+)?"
        r"(?:operat\w*|assistenza|supporto|servizio clienti)",
        r"\bnon\s+(?:e|sono|risulta\w*)\s+present\w*\s+nell[ae]\s+mi[aei]",
        r"\b(?:contatta|scriv|telefona)\w*\s+(?:\w+\s+|\w+'\s*){0,2}?(?:assistenza|supporto"
        r"|servizio clienti|staff|organizzator\w*|operator\w*|ufficio)",
        r"\brivol(?:ger|gi)\w*\s+(?:\w+\s+|\w+'\s*){0,2}?(?:assistenza|supporto|servizio clienti"
        r"|staff|operator\w*)",
        r"\bnon\s+(?:posso|possiamo|riesco a)\s+(?:verificar\w*|controllar\w*|aiutar\w*"
        r"|rispondere|accedere)",
        r"\bpotrei\s+sbagliar\w*",
        r"\b(?:ti|le|vi)\s+(?:consiglio|suggerisco|invito)\s+(?:di\s+|a\s+)?(?:contatta\w*"
        r"|scriver\w*|rivolger\w*|chiamare)",
    ),
    Language.EN: (
        r"\b(?:i'm|i am|im)\s+(?:not\s*|un)(?:sure|certain)\b",
        r"\bi\s+(?:don't|do not|dont)\s+(?:have|know)\b",
        r"\bi(?:'m| am| was)?\s+(?:\w+\s+)?(?:couldn't|could not|can't|cannot|unable to"
        r"|not able to)\s+(?:find|check|answer|help|access|verify|see)\b",
        r"\b(?:contact|get in touch with|reach out to|write to)\s+(?:\w+\s+){0,2}?(?:support"
        r"|customer service|customer care|helpdesk|help desk|the organi[sz]ers|an operator)",
        r"\bno information\b|\bi'm afraid i (?:don't|can't|cannot)\b",
    ),
    Language.DE: (
        r"\b(?:ich\s+bin|bin\s+ich)\s+mir\s+(?:\w+\s+)?nicht\s+(?:ganz\s+)?sicher\b",
        r"\b(?:habe|hab|haben)\s+(?:ich\s+|wir\s+)?(?:leider\s+)?keine\s+(?:\w+\s+)?"
        r"(?:informationen|information|infos|angaben|daten|auskunft|antwort)",
        r"\b(?:mir|uns)\s+(?:\w+\s+){0,2}?keine\s+(?:\w+\s+)?(?:informationen|infos|angaben"
        r"|daten)\b",
        r"\bwenden\s+sie\s+sich\b|\bwende\s+dich\b",
        r"\bkontaktier\w*\s+(?:\w+\s+){0,2}?(?:support|kundenservice|kundendienst|team"
        r"|mitarbeiter|veranstalter)",
        r"\b(?:kann|konnen)\s+(?:\w+\s+){0,3}?nicht\s+(?:beantworten|sagen|helfen|prufen)",
        r"\bweiss\s+ich\s+(?:leider\s+)?nicht\b|\bich\s+weiss\s+(?:es\s+)?(?:leider\s+)?nicht\b",
        r"\bkeine\s+(?:genaue\s+|verlassliche\s+)?auskunft\b",
    ),
}

PATTERNS: Mapping[str, Mapping[Language, tuple[str, ...]]] = MappingProxyType(
    {
        ASKS_HUMAN: MappingProxyType(_ASKS_HUMAN),
        UPSET: MappingProxyType(_UPSET),
        UNSURE: MappingProxyType(_UNSURE),
    }
)
