"""Figures of speech that borrow an emergency's words ("this traffic is giving me a heart
attack", "I'm dying of boredom", "me estoy ahogando en deudas").

:func:`strip_figures` blanks such idioms out of the normalised message before the red-flag
patterns run, so the words inside the idiom raise nothing while a real danger sign elsewhere in
the message still does ("lol probably nothing but my lips are going blue" keeps its alarm: no
idiom there). Idioms whose literal reading is plausible ("I nearly had a heart attack") count
as figures only next to a joke marker (lol, haha, jaja...) or an everyday cause (a boss, a bill,
homework). Written from the figurative look-alikes of the triage training set, where 28 of 128
raised a rule alarm; the held-out set was not used.
"""

from __future__ import annotations

import re

_JOKE = re.compile(r"\b(?:lol|lmao|lmfao|rofl|haha\w*|hehe\w*|jaja\w*|jeje\w*|xd|jk|kidding)\b|[\U0001F602\U0001F923]")

# Idioms that are figurative whatever surrounds them.
_ALWAYS = re.compile(
    "|".join(
        [
            r"\b(?:is|was|are|its|it s|keeps?|kept) (?:giving|gonna give|going to give) (?:me|us|him|her) (?:a )?(?:heart attack|stroke|seizure|coronary|aneurysm)\b",
            r"\b(?:gave|give|giving) (?:me|us|him|her) (?:a )?(?:heart attack|stroke|coronary)\b",
            r"\b(?:im|i am|we are|were|he is|she is) (?:literally |actually |just |so )?dying (?:of|from) (?:boredom|thirst|hunger|embarrassment|laughter|curiosity|the heat|heat|cold|cringe|envy|jealousy)\b",
            r"\bdying to (?:know|see|try|go|meet|get)\b",
            r"\b(?:me )?(?:estoy|estamos|esta) muriendo de (?:frio|calor|hambre|sed|risa|verguenza|aburrimiento|sueno|envidia)\b|\bme muero de (?:frio|calor|hambre|sed|risa|verguenza|aburrimiento|sueno|envidia|ganas)\b",
            r"\b(?:drowning|ahogando|ahogandome) (?:in|en) (?:debt|deudas|work|trabajo|paperwork|papeles|emails?|correos|homework|deberes|laundry|bills|facturas|admin|tareas)\b",
            r"\b(?:o ?d ?d|overdosed|overdosing|od) on (?:chocolate|sugar|candy|sweets|coffee|caffeine|netflix|tv|tiktok|youtube|christmas \w+|easter \w+|pizza|cake|cheese|carbs|memes|gaming|series)\b",
            r"\bpoisoning (?:my|our|his|her|the) (?:brain|sanity|mind|mood|blood|soul|vibe|day|life|relationship)\b",
            r"\b(?:phone|laptop|computer|pc|tablet|car|printer|wifi|router|portatil|movil|ordenador|coche) (?:is |esta |keeps |just )?(?:having a seizure|having a fit|convulsionando|dying|died|muriendo)\b",
            r"\b(?:cant|can not|cannot|no puedo) (?:go on|seguir) (?:with|con) (?:this|that|my|esta|este|la|el) (?:diet|dieta|job|trabajo|course|curso|class|clase|show|series|book|game|workout|rutina|routine)\b",
            r"\b(?:couldnt|cant|could not|can not|cannot) (?:breathe|stop breathing) (?:from|for|with) (?:laughing|laughter|laughing so hard)\b",
            r"\b(?:my brain|brain) is having a (?:full |total |complete )?(?:stroke|meltdown|seizure)\b",
            r"\bse me quedo la cara (?:torcida|descompuesta) de la sorpresa\b",
        ]
    )
)

# Idioms with a plausible literal reading: figurative only beside a joke marker or an everyday cause.
_WITH_CUE = re.compile(
    "|".join(
        [
            r"\b(?:nearly|almost|practically|basically|literally|totally|gonna|going to|about to|will) (?:have|had|give me|gave me) (?:a )?(?:total |full |mini )?(?:heart attack|stroke|coronary|seizure|aneurysm)\b",
            r"\b(?:had|having) a (?:total |full |mini )?(?:heart attack|stroke|meltdown)\b",
            r"\b(?:i|ill|im going to|im gonna|gonna) (?:literally )?(?:kill myself|die)\b",
            r"\b(?:i )?(?:literally |just |actually )?(?:want to|wanna) die\b",
            r"\bi cant go on\b|\bi just want it all to stop\b",
            r"\bim dying\b|\bme muero\b|\bme va a (?:dar|provocar) un (?:infarto|ictus|ataque)\b|\bme (?:dio|dara) un infarto\b",
            r"\b(?:can barely|cant|could barely) breathe\b",
            r"\bgasping like a fish\b",
        ]
    )
)
_EVERYDAY_CAUSE = re.compile(
    r"\b(?:if i have to|one more|boss|jefe|bill|factura|deadline|traffic|homework|deberes|exam|examen|meeting|reunion\w*|"
    r"spreadsheet|lego|kids leave|price|prices|score|match|game|maths|math|diet|dieta|week|monday|commute|queue|"
    r"group chat|gif|wedding speech|spin class|workout)\b"
)


def strip_figures(norm: str) -> str:
    """``norm`` (normalised text) with figurative idioms blanked out."""
    out = _ALWAYS.sub(" ", norm)
    if _JOKE.search(out) or _EVERYDAY_CAUSE.search(out):
        out = _WITH_CUE.sub(" ", out)
    return out


def joking(norm: str) -> bool:
    """A joke marker (lol, haha, jaja...) in the normalised text."""
    return bool(_JOKE.search(norm))
