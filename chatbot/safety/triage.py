"""Red-flag triage: does this message describe an emergency happening now?

Pure regular expressions over :func:`chatbot.safety.lexicon.normalize` text, so it runs in well
under a millisecond and needs no model. Two kinds of evidence per category:

* **strong** patterns describe a danger sign concretely ("my face is drooping and I can't lift
  my arm", "took 30 paracetamol"). They raise the alarm unless the message is clearly about the
  past ("5 years ago") or hypothetical ("if someone ...") and carries no sign of happening now,
  or is an educational question that doesn't speak about a particular person.
* **weak** patterns only name a condition ("stroke", "heart attack"). They raise the alarm when
  the message speaks about a particular person and is neither educational nor about the past,
  or when it says the thing is happening now ("right now", "suddenly", "won't stop").

Recall comes first: a false alarm costs a reader a few seconds, a missed emergency costs more.
Measured by ``benchmarks/triage_eval.py`` on ``tests/data/triage_tuned.jsonl`` and a held-out file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatbot.safety.figurative import joking, strip_figures
from chatbot.safety.lexicon import normalize
from chatbot.types import PatientProfile

Strength = str  # "strong" | "weak"


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


# ------------------------------------------------------------------------------ context cues

# Happening now, whatever else the message says.
ACUTE = _rx(
    r"\b(?:right now|just now|at the moment|currently|as we speak|this (?:morning|evening|afternoon)|tonight)\b",
    r"\b(?:all of a )?sudden(?:ly)?\b|\bout of nowhere\b|\bcame on\b",
    r"\bnow (?:ive|im|hes|shes|theyre)\b|\bnow (?:i|he|she|my|its|they) (?:have|has|having|cant|is|am|feel|feels|got|keep|keeps)\b|\band now (?:i|he|she|my)\b",
    r"\b(?:\d+|a few|few|couple of|an?|half an?) (?:minutes?|hours?) ago\b|\bfor the (?:last|past) (?:\d+|few) (?:minutes|hours?)\b",
    r"\b(?:wont|isnt|doesnt|not) stop(?:ping)?\b|\bkeeps? (?:getting|going|happening)\b",
    r"\b(?:please help|help me please|help please|somebody help|need help (?:now|fast|quick))\b|\bhelp$",
    r"\b(?:call(?:ed)? (?:an? )?(?:ambulance|911|112|999)|should i call)\b",
    r"\b(?:ahora mismo|de repente|ayuda por favor|urgente|no para)\b",
)

# Talks about a particular person (the writer or someone they are with).
PERSONAL = _rx(
    r"\b(?:i|im|ive|id|ill|me|my|myself|we|were|our|us)\b",
    r"\b(?:he|hes|she|shes|his|her|him|they|theyre|them|their)\b",
    r"\b(?:mi|mis|me|tengo|estoy|siento|le|se le|se me|mi \w+)\b",
)

# Educational, general or preventive questions.
EDU = _rx(
    r"\b(?:(?:warning|early|common|first|typical|main) )?(?:signs?|symptoms?|causes?|risk factors?|risks?|complications?|types?|stages?) (?:of|for)\b",
    r"\bwhat (?:is|are|does|do|causes|happens|counts)\b|\bwhats\b|\bwhat to do (?:if|when)\b|\bwhat should (?:i|you|one|we) do (?:if|when)\b",
    r"\bhow (?:do|does|can|would|should|could) (?:you|i|one|we|people|someone|a person|doctors) "
    r"(?:tell|know|recogni[sz]e|spot|identify|prevent|avoid|treat|reduce|lower|support|help|use|manage|cope)\b",
    r"\bhow to (?:prevent|treat|recogni[sz]e|avoid|use|support|manage|cope|spot|help)\b|\bhow (?:long|often|much|many) (?:should|does|do|is|can)\b",
    r"\bis (?:it|that|this) (?:normal|common|safe|true|okay|ok|serious)\b|\bis \w+(?: \w+)? (?:common|normal|hereditary|genetic|contagious)\b",
    r"\b(?:can|does|do|could|will|would) (?:\w+ ){1,4}(?:cause|causes|lead to|trigger|mean)\b",
    r"\bdo (?:i|we|you) need to\b|\bshould (?:i|we) (?:carry|keep|buy|get|see|book)\b",
    r"\bdifference between\b|\bprevent(?:ion|ing)?\b|\brisk of\b|\breduce (?:the |my )?risk\b|\brecover(?:y|ing)?\b|\brehab\w*\b",
    r"\b(?:diet|foods?|meal|exercise|vaccine|vaccination|statistics|rates?|research|study|acronym|definition|explain|inhaler technique)\b",
    r"\bfor (?:a|my|our) (?:class|course|exam|essay|school|project|paper|presentation|training)\b|\bfirst aid (?:course|class|training|kit)\b",
    r"\b(?:cuales son|que es|como (?:prevenir|saber|reconocer|ayudar|puedo ayudar)|es normal|(?:sintomas|senales|signos|causas) de|dieta|alimentos)\b",
)

# Clearly in the past: a history, not an event now.
PAST = _rx(
    r"(?<!born )\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|several|many|a few|few|some|a couple of) (?:years?|months?|weeks?) ago\b",
    r"\blast week\b|\ba (?:year|month|week) ago\b|\blast (?:years|months|weeks|summers|winters)\b",
    r"\blast (?:year|month|summer|winter|spring|fall|autumn)\b|\bin (?:19|20)\d\d\b|\bhistory of\b|\bused to\b|\bsurvivor\b",
    r"\bwhen i was (?:a|young|little|in)\b|\bback in\b|\bhace (?:\d+|unos|muchos|varios|dos|tres) (?:anos|meses)\b|\bhace anos\b",
    # Found in the written training set (long consumer messages about a relative's history).
    r"\blast yr\b|\b(?:el|la) (?:ano|mes) pasad[oa]\b|\bel (?:verano|invierno|otono) pasado\b",
    r"\bin (?:my|his|her|their) (?:teens|twenties|thirties|forties|fifties|sixties|childhood)\b",
    r"\bas a (?:child|kid|teenager|teen|baby|toddler)\b|\bwhen (?:he|she|they) (?:was|were) (?:a|young|little|\d+)\b",
    r"\bde (?:nino|nina|pequeno|pequena|joven|bebe)\b",
    # Found in training part G (a finished event named by month, season or a longer span).
    r"\b(?:eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|\d+) (?:yrs?|years?|months?) ago\b",
    r"\b(?:had|was|were|went|spent|collapsed|diagnosed|admitted)\b(?: \w+){0,8} in (?:january|february|march|april|may|june|july|august|september|october|november|december|the (?:spring|summer|autumn|fall|winter))\b",
    r"\blast (?:january|february|march|april|may|june|july|august|september|october|november|december|pregnancy)\b|\b(?:my|her|our) (?:first|previous|last|other) pregnanc(?:y|ies)\b",
    r"\bhace (?:un|una|unos|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|\d+) (?:anos|meses)\b",
    r"\b(?:fully|has|have|had|since) recovered\b|\bback to normal\b|\bhome and stable\b|\b(?:was|got) discharged\b|\bsalio del hospital\b",
    # "I had a stroke at 40" (issue 17): an event at an age is history.
    r"\b(?:had|got|suffered|survived) (?:a |an |my |his |her )?\w+(?: \w+)? (?:at|aged|at age|at the age of) \d{1,2}\b",
)

# If/when someone: a hypothetical person, not one in front of the writer.
HYPOTHETICAL = _rx(
    r"\b(?:if|when|whenever|in case) (?:someone|somebody|a person|people|anyone|you|your \w+|one|a child|a baby|a kid|a patient|a friend|they)\b",
    r"\bif i (?:accidentally|ever|were to|happen to)\b|\bhypothetical\w*\b|\bin (?:a|the) (?:movie|film|book|novel|show|game|story)\b|\bsuppose\b|\bimagine\b",
)

# ------------------------------------------------------------------------------ red flags

_SEVERE = (
    r"(?:crushing|squeezing|heavy|severe|terrible|horrible|really bad|very bad|worst|excruciating|unbearable|intense)"
)
_CHEST = (
    r"(?:chest (?:pain|pressure|tightness|heaviness|discomfort|hurts?|hurting|"
    r"(?:is|feels?) (?:really |very |so |kind of |a bit )?(?:tight|heavy|crushing|crushed|hurting|killing|like|squeezed)(?: and heavy)?)|"
    r"(?:pain|pressure|tightness|squeezing|heaviness|discomfort|ache|burning|feeling|sensation|band|weight) (?:in|across|on|around) "
    r"(?:the (?:middle|centre|center) of )?(?:my|the|his|her) chest|pecho)"
)
_CARDIAC_COMPANION = (
    r"(?:left arm|arm|jaw|neck|shoulder|back|sweat\w*|clammy|short of breath|breathless|cant (?:catch (?:my|his|her) )?breath\w*|"
    r"nause\w*|faint|dizz\w*|pass(?:ing)? out|grey|gray|pale|vomit\w*|brazo|mandibula|sudor|falta de aire|mareo)"
)
_PILLS = (
    r"(?:pills?|tablets?|tabs|capsules?|paracetamol|ibuprofen|aspirin|insulin|doses?|meds|medications?|medicines?|"
    r"sleeping|xanax|oxy\w*|benadryl|antidepressants?|of (?:my|his|her) \w+|pastillas|pildoras|comprimidos|tabletas|ibuprofeno)"
)
_LOTS = (
    r"(?:\d+|whole|entire|all|full|bottle|packet|box|handful|bunch|lot|lots|dozen|ten|twelve|fifteen|twenty|thirty|forty|"
    r"fifty|double|triple|too many|too much|muchas|todas|un frasco|una caja|un bote|\d+ de|diez|quince|veinte|treinta|"
    r"cuarenta|cincuenta|un monton|un puñado)"
)
_CHILD = r"(?:baby|toddler|child|kid|son|daughter|boy|girl|infant|newborn|little one|\d+ (?:year|month)s? old|bebe|nino|nina|hijo|hija)"
_SUBSTANCE = (
    r"(?:bleach|detergent|laundry pod|pods?|dishwasher|cleaner|drain|antifreeze|button battery|batter(?:y|ies)|magnets?|"
    r"rat poison|poison|pesticide|weed ?killer|mushrooms?|berries|lamp oil|kerosene|gasoline|petrol|lighter fluid|"
    r"nail polish|vape|nicotine|e liquid|essential oil|pills?|tablets?|medicine|lejia|cloro|detergente|pila|veneno|raticida|amoniaco|limpia\w*|quitagrasas|desatascador)"
)

RULES: tuple[tuple[str, Strength, re.Pattern[str]], ...] = (
    # --- chest pain / heart attack
    (
        "chest_pain",
        "strong",
        _rx(
            rf"{_CHEST}.{{0,80}}{_CARDIAC_COMPANION}",
            rf"{_CARDIAC_COMPANION}.{{0,60}}{_CHEST}",
            rf"{_SEVERE} (?:\w+ )?(?:chest|pain in (?:my|the|his|her) chest)",
            r"\b(?:squeezing|crushing|pressing|heavy|tight) (?:feeling|sensation|pressure) in (?:my|his|her|the) chest",
            r"\b(?:elephant|weight|something heavy|ton of bricks) (?:is )?(?:sitting )?on (?:my|his|her) chest",
            r"\bclutch\w* (?:at )?(?:his|her|my|their) chest",
            r"\b(?:im|think im|hes|shes|is|may be|might be|could be|am i|think (?:he|she|i)s?) having (?:a )?heart attack",
            r"\b(?:creo que )?(?:estoy teniendo|esta teniendo|me esta dando|le esta dando) (?:un )?(?:infarto|ataque al corazon)",
            r"\bdolor (?:\w+ ){0,3}(?:en el|de) pecho",
        ),
    ),
    (
        "chest_pain",
        "weak",
        _rx(
            r"\bheart attack\b",
            r"\bchest (?:pain|pressure|tightness|hurts?)\b",
            r"\bmy chest\b.{0,20}\bhurts?\b",
            r"\binfarto\b",
            r"\bataque al corazon\b",
            r"\bme duele (?:mucho )?el pecho\b",
        ),
    ),
    # --- stroke
    (
        "stroke",
        "strong",
        _rx(
            r"\b(?:face|smile|mouth|eye(?:lid)?)s? (?:is |are |was |looks? |seems |has )?(?:gone |going |all |kind of |a bit )?(?:drooping|droopy|droop(?:ed|s)?|crooked|lopsided|twisted|uneven|sagging|fallen|slanted|numb)",
            r"\b(?:drooping|droopy|crooked|lopsided|sagging) (?:face|smile|mouth|eye)",
            r"\bone side of (?:my|his|her|their|the) (?:face|body|mouth)\b",
            r"\b(?:cant|can barely|couldnt|struggling to) (?:lift|raise|move|feel|use) (?:my|his|her|their|the) (?:\w+ )?(?:arm|leg|hand|side)",
            r"\bslurr\w*|\bspeech (?:\w+ ){0,2}(?:slurred|garbled|jumbled|strange|weird|muddled|gibberish)|\btalking gibberish\b|\bwords (?:come|came|are coming) out (?:wrong|jumbled|garbled)",
            r"\bcant (?:speak|talk|get (?:my|his|her|the) words out) (?:properly|right|clearly|normally)\b|\bcant find (?:my|his|her) words\b",
            r"\b(?:lost|losing|lose) (?:the )?(?:vision|sight) in one eye\b|\bsudden(?:ly)? (?:\w+ ){0,4}(?:blind|double vision|cant see)\b",
            r"\bsudden(?:ly)? (?:\w+ ){0,8}(?:numb\w*|weak\w*|paraly\w*|cant (?:speak|talk|walk|understand))",
            r"\b(?:my|his|her|their) (?:right|left) (?:hand|arm|leg|side) (?:is|went|feels|has gone|just went) (?:\w+ )?(?:weak|numb|limp|dead|heavy)\b",
            r"\bworst headache (?:of|in) (?:my|his|her|their) life\b|\bthunderclap\b",
            r"\b(?:im|think im|hes|shes|is|may be|might be|could be|think (?:he|she|i)s?|think my \w+ is) having (?:a )?(?:stroke|mini stroke|tia)\b",
            r"\b(?:cara|boca|sonrisa) (?:\w+ )?(?:caida|torcida|ladeada|desviada)|\bse le (?:cayo|torcio|durmio) (?:\w+ ){0,4}(?:cara|boca)",
            r"\bno (?:puede|puedo) mover (?:el|la|un|una|mi|su) (?:\w+ )?(?:brazo|pierna|lado|mano)",
            r"\b(?:brazo|pierna|mano|lado) (?:\w+ )?(?:sin fuerza|dormid[oa]|debil|paralizad[oa])\b",
            r"\bhabla (?:raro|arrastrada|mal|enredad\w*|rara)|\barrastra las palabras|\bno entiende lo que\b",
        ),
    ),
    ("stroke", "weak", _rx(r"\bstroke\b", r"\bderrame\b", r"\bictus\b", r"\bface (?:is )?numb\b")),
    # --- anaphylaxis
    (
        "anaphylaxis",
        "strong",
        _rx(
            r"\bthroat (?:is |feels |has |keeps )?(?:closing|swelling|swollen|tight|closing up|getting tight)",
            r"\b(?:lips?|tongue|face|mouth|eyes?) (?:is |are |keeps )?(?:swelling|swollen|puffing up|blowing up)\b.{0,40}(?:breath\w*|throat|dizz\w*|fast|quickly|wheez\w*|hives)",
            r"\b(?:stung|sting|bee|wasp|ate|eaten|eating|took|injection|peanuts?|nuts?|shrimp|shellfish)\b.{0,60}\b(?:swell\w*|swollen|hives|cant breathe|hard to breathe|wheez\w*|throat)",
            r"\b(?:used|gave|give|injected) (?:my|his|her|an|the) epipen\b",
            r"\b(?:lips?|tongue|face|eyes?|throat) (?:is |are |look |looks |got |getting |have gone |went )?(?:\w+ )?(?:huge|massive|puffy|puffed up|ballooning|blown up)\b.{0,60}\b(?:breath\w*|wheez\w*|throat|dizz\w*|hives)",
            r"\b(?:allerg\w*|antibiotic|penicillin|new (?:medicine|medication|tablet|pill))\b.{0,60}\b(?:wheez\w*|swell\w*|swollen|huge|throat|cant breathe)",
            r"\b(?:tongue|throat|lips?)\b (?:\w+ )?(?:is |are |keeps |started )?(?:swelling|swollen|puffing up)\b",
            r"\b(?:swell\w*|swollen|hives|wheez\w*)\b.{0,60}\b(?:after|from) (?:eating|a sting|being stung|taking|the injection|nuts|peanuts|shellfish)\b",
            r"\b(?:im|think im|hes|shes|is|think (?:he|she|i)s?) having (?:an )?(?:allergic reaction|anaphyla\w*)",
            r"\b(?:se me|se le) (?:esta )?(?:cierra|cerrando|hincha|hinchando) la garganta|\bgarganta (?:cerrada|se cierra|hinchada)",
            r"\b(?:lengua|labios|cara) hinchad\w*",
        ),
    ),
    ("anaphylaxis", "weak", _rx(r"\banaphyla\w*", r"\ballergic reaction\b", r"\breaccion alergica\b")),
    # --- breathing difficulty
    (
        "breathing",
        "strong",
        _rx(
            r"\b(?:cant|can barely|can hardly|hardly|barely|cant really|couldnt|struggling to|hard to|difficult to|trouble|difficulty|hard time|fighting to) "
            r"(?:breathe|breath|breathing|catch (?:my|his|her|their) breath|get (?:a |enough )?air)\b(?! (?:through|thru) (?:my|his|her|the) nose)",
            r"\bcan barely (?:talk|speak) between breaths\b|\bcant (?:finish|complete|say) a (?:full )?sentence\b",
            r"\bgasping\b|\bfighting for (?:air|breath)\b",
            r"\b(?:lips?|face|fingers|skin) (?:are |is |turning |going |look |looks |gone )*(?:blue|purple|grey|gray)\b|\bturning (?:blue|grey|gray|purple)\b",
            r"\bribs (?:are )?(?:sucking|pulling|caving) in\b|\bsucking in (?:under|between) (?:his|her|the) ribs\b",
            r"\b(?:not|isnt|stopped|barely|hardly|isnt really) breathing\b|\bno pulse\b",
            r"\b(?:inhaler|reliever|puffer|nebuli[sz]er) (?:isnt|is not|not|doesnt|didnt|wont|hasnt) (?:helping|working|help|work)\b",
            r"\bno (?:puedo|puede) respirar\b|\b(?:le|me) cuesta (?:mucho )?respirar\b|\blabios (?:morados|azules)\b|\bno respira\b|\b(?:se|me) (?:esta |estoy )?ahoga\w*",
        ),
    ),
    # --- severe bleeding
    (
        "bleeding",
        "strong",
        _rx(
            r"\b(?:bleeding|blood|bleed)\b.{0,40}\b(?:wont|doesnt|isnt|will not|not|cant get it to|wont even) (?:stop|stopping|slow)",
            r"\bcant (?:stop|control) (?:the |his |her |my )?bleed\w*|\bsoak\w* (?:a |through )?(?:pad|pads|towel)\b.{0,30}\bevery\b",
            r"\b(?:bleeding|bleed|bled) (?:very |really )?(?:heavily|a lot|badly|profusely|everywhere|non ?stop)\b|\bheavy bleeding\b",
            r"\bblood everywhere\b|\b(?:spurting|gushing|pouring|squirting|pumping)\b",
            r"\b(?:wont|doesnt|isnt|cant|will not|does not) stop bleeding\b|\bstill bleeding\b.{0,30}\b(?:pressure|pressing|minutes|hour)",
            r"\b(?:coughing|coughing up|spitting up) (?:up )?(?:lots of |a lot of |some |bright red |fresh )?blood\b",
            r"\b(?:cut|chopped|sliced) off (?:my|his|her) (?:finger|toe|hand)|\bamputat\w*",
            r"\b(?:sangre|sangra|sangrado|sangrando)\b.{0,30}\b(?:no para|no se detiene|a chorros|mucho|mucha|abundante)|\bsale a chorros\b",
        ),
    ),
    # --- bleeding inside the gut: its own guidance (nothing to press on, nothing by mouth)
    (
        "gi_bleeding",
        "strong",
        _rx(
            r"\b(?:vomiting|throwing up|vomited|threw up|puking|puked) (?:up )?(?:lots of |a lot of |some |bright red |fresh )?blood\b",
            r"\bblood in (?:my|his|her|the) vomit\b|\bblack (?:tarry |tar )?(?:stool|stools|poop|poo)\b|\btarry (?:stool|stools|poop)\b",
            r"\b(?:stool|stools|poop|poo)\b (?:is|are|has been|have been|looks?|went) (?:\w+ )?black\b",
            r"\b(?:vomit\w*|throw\w* up|threw up|puk\w*|sick)\b.{0,40}\bcoffee ?grounds?\b|\bcoffee ?grounds?\b.{0,40}\b(?:vomit\w*|throw\w* up|threw up|sick)\b",
            r"\bvomit\w* sangre\b|\bposos? de cafe\b|\bheces negras\b",
        ),
    ),
    # --- overdose (self-inflicted or accidental, adult)
    (
        "overdose",
        "strong",
        _rx(
            rf"\b(?:took|taken|take|taking|swallowed|ate|had|downed|necked|popped|me tome|tome|se tomo|me trague|se trago|(?:se |me )?(?:ha|han|he) tomado)\b (?:(?:a|an|the|like|about|around|maybe|over|almost|nearly|at least|some|more than) )*{_LOTS}\b.{{0,40}}{_PILLS}",
            r"\b(?:overdosed|overdosing|od d|odd on)\b|\bsobredosis\b|\bintoxicad\w* con (?:pastillas|medicamentos)",
            r"\b(?:took|swallowed|taken)\b.{0,40}\bon purpose\b|\bon purpose\b.{0,40}\b(?:took|swallowed)\b",
            r"\b(?:im|hes|shes|think (?:i|he|she)|might|may) (?:have )?(?:taken|had) an? overdose\b",
        ),
    ),
    ("overdose", "weak", _rx(r"\boverdose\b")),
    # --- poisoning (mostly children)
    (
        "poisoning",
        "strong",
        _rx(
            rf"\b(?:drank|drunk|drink|swallowed|ate|eaten|eat|licked|ingested|got into|sucked on|chewed|bit into|se bebio|bebio|se tomo|se trago|trago|comio|se comio)\b.{{0,40}}{_SUBSTANCE}",
            r"\bcarbon monoxide (?:alarm|detector)\b|\b(?:co|carbon monoxide) (?:alarm|detector) (?:is |keeps )?(?:beeping|going off|sounding)",
            r"\b(?:been|was|got|think (?:i|he|she) (?:was|got)) poisoned\b|\bswallowed (?:some |a )?poison\b",
        ),
    ),
    ("poisoning", "weak", _rx(r"\bpoisoning\b", r"\benvenenad\w*\b|\bintoxicacion\b")),
    # --- suicidal thoughts and self-harm (first and third person)
    (
        "self_harm",
        "strong",
        _rx(
            r"\b(?:kill|killing|hurt|hurting|harm|harming|cut|cutting|burn|burning|hang|hanging|shoot|poison) (?:my ?self|myself)\b",
            r"\b(?:end|ending|take|taking) (?:my (?:own )?life|it all)\b|\bend (?:things|everything|it) (?:tonight|today|now|soon|for good)\b",
            r"\b(?:want|wanna|going|plan\w*|thinking (?:about|of)|think about|considering|decided|ready|about|tempted) (?:to )?(?:die|end it|commit suicide|suicide|not wake up|disappear forever|end my life)\b",
            r"\b(?:wanted|want|wanting|tried|trying) to die\b|\b(?:i|im) (?:want|wish) (?:to be |i (?:was|were) )?dead\b|\bwish i (?:was|were) dead\b|\bwish i (?:could|would) (?:just )?(?:die|not wake up)\b",
            r"\b(?:dont|cant|do not) see (?:the|any) point (?:in|of) (?:living|life|going on|being alive|anything)\b",
            r"\bbetter off (?:dead|without me)\b|\bno (?:point|reason|will) (?:in )?(?:living|to live|going on|to go on)\b",
            r"\b(?:dont|do not|no longer) want to (?:be alive|live|wake up|exist|be here)\b|\bcant go on\b|\bdone with (?:life|living)\b",
            r"\b(?:im|i feel|feeling|been|am) (?:really |very |so )?suicidal\b|\bsuicidal (?:thoughts|feelings|again)\b|\bsuicide (?:note|plan)\b",
            r"\b(?:i|im|ive been|been) (?:self harm\w*|cutting)\b|\bself harm\w* again\b",
            r"\b(?:saving|stockpiling|hoarding|collecting) (?:up )?(?:my |some )?(?:pills|tablets|meds)\b",
            r"\b(?:how|which|what|best|easiest|quickest|painless)\b.{0,40}\b(?:kill myself|to die|end my life|commit suicide)\b",
            r"\b(?:kill|hurt|harm|cutting|cut) (?:him|her|them)sel(?:f|ves)\b|\b(?:take|end) (?:his|her|their) (?:own )?life\b|\b(?:he|she|they) (?:wants?|want) to die\b",
            r"\bsuicid(?:arme|arse|arte|io)\b|\b(?:matarme|matarse|quitarme la vida|quitarse la vida|acabar con mi vida|hacerme dano|cortarme)\b",
            r"\b(?:quiero|quisiera|me quiero|se quiere|quiere) morir\w*\b|\bno quiero (?:seguir )?vivi\w*\b|\b(?:voy|va|vas) a matar(?:me|se|te)?\b|\bme voy a (?:suicidar|quitar la vida|tirar)\b",
            r"\boverdose (?:tonight|today|now)\b|\bgoing to overdose\b",
            r"\b(?:going to|want to|about to|will|plan to|planning to) (?:take|swallow|down|overdose on) (?:\w+ ){0,2}(?:all|whole|every|bottle|box|packet|rest)\b",
            r"\b(?:im|i am) (?:taking|swallowing|downing) (?:the|a|all|my) (?:whole|entire|rest|full|bottle|pills|tablets)\b",
            r"\bwant (?:it all|everything|the pain|this) to (?:stop|end)\b(?! hurting)",
        ),
    ),
    ("self_harm", "weak", _rx(r"\bsuicid\w*")),
    # --- pregnancy (context checked separately)
    (
        "pregnancy",
        "strong",
        _rx(
            r"\b(?:bleeding|bleed|blood)\b.{0,20}\b(?:heavily|heavy|a lot|lots|badly|clots?|bright red)\b|"
            r"(?<!no )(?<!without )\bbleeding\b.{0,30}\b(?:cramp\w*|pain)\b|"
            r"\b(?:cramp\w*|pain)\b.{0,30}(?<!no )(?<!without )\bbleeding\b|\bheavy bleeding\b|\bsoak\w* (?:a |through )?(?:pad|pads)\b",
            r"\b(?:severe|bad|terrible|pounding|awful|worst) headache\b.{0,60}\b(?:vision|blurr\w*|spots|flashing|swell\w*|swollen)",
            r"\b(?:blurry|blurred|blurring) vision\b|\bseeing (?:spots|stars|flashing lights)\b",
            r"\b(?:baby|fetus|bump)\b.{0,30}\b(?:hasnt|has not|isnt|stopped|not|doesnt|didnt|hasn t) (?:moved|moving|kicked|kicking|move)\b",
            r"\b(?:less|fewer|reduced|decreased|no) (?:fetal |baby )?(?:movements?|kicks|kicking)\b",
            r"\b(?:havent|hasnt|not|didnt|cant|dont) (?:felt|feel|feeling|noticed) (?:the |my )?(?:baby|him|her|it|any) (?:move|moving|movement|kick\w*)",
            r"\b(?:waters?|water) (?:broke|broken|has broken|breaking)\b|\bleaking (?:fluid|water)\b",
            r"\b(?:gush|leak\w*|trickle) of (?:fluid|water)\b|\bcontractions (?:every|are)\b",
            r"\b(?:severe|sharp|terrible|bad|stabbing) (?:pain|cramps?)\b.{0,40}\b(?:belly|abdomen|stomach|side|pelvis|shoulder)",
            r"\b(?:seizure|fit|faint\w*|passed out)\b",
            r"\bsangr\w* (?:mucho|abundante|bastante)\b|\bestoy sangrando\b|\b(?:el|mi) bebe no se mueve\b|\bno se mueve\b|\brompi (?:aguas|fuente)|\bse me rompio la fuente|\bvision borrosa\b",
        ),
    ),
    # --- sepsis (infection plus danger signs; checked with companions separately)
    ("sepsis", "weak", _rx(r"\bsepsis\b|\bseptic\b")),
    # --- head injury
    (
        "head_injury",
        "strong",
        _rx(
            r"\b(?:hit|banged|bumped|knocked|smacked|struck|fell on|landed on|hurt|injured) (?:\w+ ){0,3}head\b.{0,80}\b(?:passed out|knocked out|unconscious|vomit\w*|throwing up|threw up|confus\w*|drowsy|sleep\w*|seizure|fit|pupil\w*|blood thinners?|anticoagulant\w*|warfarin|clear fluid|cant remember|slurr\w*|wont wake)",
            r"\b(?:passed out|knocked out|unconscious|vomit\w*|confus\w*|drowsy|pupil\w*|blood thinners?)\b.{0,60}\b(?:hit|banged|bumped|knocked|fell) (?:\w+ ){0,3}head\b",
            r"\bgolpe (?:fuerte )?en la cabeza\b.{0,60}\b(?:vomit\w*|desmay\w*|confund\w*|dormid\w*|no responde)",
        ),
    ),
    # --- prolonged or first seizure
    (
        "seizure",
        "strong",
        _rx(
            r"\b(?:seizure|seizing|fitting|convuls\w*|jerking|shaking uncontrollably|ataque epileptico)\b.{0,60}\b(?:more than|over|longer than|for|lleva mas de|mas de) (?:(?:about|around|almost|nearly|at least|like|roughly) )?(?:\d+|five|ten|cinco|diez) (?:minutes|minutos)",
            r"\b(?:lleva|llevan?) mas de (?:\d+|cinco|diez) minutos (?:convulsion\w*|con convulsiones)",
            r"\b(?:seizure|seizing|fitting|convuls\w*|jerking)\b.{0,60}\b(?:wont stop|not stopping|for ages|wont (?:wake|come round|come to|respond)|not waking|still not|after another|back to back|cant wake)",
            r"\bfirst (?:time )?(?:ever )?seizure\b|\bseizure for the first time\b",
            r"\b(?:im|hes|shes|is|think (?:he|she)s?) (?:having|in) (?:a )?(?:seizure|fit|convulsion)\b",
            r"\b(?:esta|estoy) convulsionando\b|\bconvulsionando\b",
        ),
    ),
    ("seizure", "weak", _rx(r"\bseizures?\b|\bconvulsion\w*")),
    # --- severe burns
    (
        "burns",
        "strong",
        _rx(
            r"\b(?:burn\w*|scald\w*|boiling (?:water|oil)|fire|flames?)\b.{0,80}\b(?:large|big|huge|whole|all over|bigger than|white|charred|leathery|black|doesnt hurt|skin (?:is )?(?:coming|peeling) off|peeling off|face|airway|smoke|blisters? all over)",
            r"\b(?:toddler|baby|child|kid|infant)s?\b.{0,40}\b(?:burn\w*|scald\w*|boiling)\b.{0,60}\b(?:skin|blister\w*|peeling|chest|face)",
            r"\b(?:boiling (?:water|oil)|hot (?:water|oil|coffee|tea))\b.{0,40}\b(?:spilled|poured|splashed)\b",
            r"\b(?:spilled|poured|splashed|knocked)\b.{0,30}\b(?:boiling|scalding) (?:water|oil)\b|\bskin (?:is )?(?:peeling|blistering|coming off)\b",
            r"\b(?:chemicals?|acid|bleach|lye|oven cleaner|cleaner)\b.{0,40}\b(?:in|into) (?:my|his|her|their|the) eyes?\b|\bsplashed\b.{0,30}\beyes?\b",
            r"\belectrocuted\b|\belectric(?:al)? shock\b|\bstruck by lightning\b",
        ),
    ),
    # --- meningitis
    (
        "meningitis",
        "strong",
        _rx(
            r"\bstiff neck\b.{0,80}\b(?:fever|rash|headache|light|vomit\w*|temperature)|\b(?:fever|rash|headache|temperature)\b.{0,80}\bstiff neck\b",
            r"\bneck (?:is )?(?:stiff|rigid)\b.{0,60}\b(?:fever|rash|headache|vomit\w*|light)|\b(?:fever|rash|headache|light)\b.{0,60}\bneck (?:is )?(?:stiff|rigid)\b",
            r"\brash (?:that )?(?:doesnt|does not|wont|didnt|isnt) (?:fade|go away|blanch|disappear)|\bnon ?blanching\b|\bglass test\b",
            r"\b(?:purple|dark red) (?:spots|rash|blotches)\b.{0,40}\bfever\b|\bfever\b.{0,40}\b(?:purple|dark red) (?:spots|rash|blotches)\b",
            r"\bcuello rigido\b.{0,60}\bfiebre\b|\bfiebre\b.{0,60}\bcuello rigido\b|\bmanchas\b.{0,30}\bno desaparecen\b",
        ),
    ),
    ("meningitis", "weak", _rx(r"\bmeningitis\b")),
    # --- diabetic emergencies
    (
        "diabetic",
        "strong",
        _rx(
            r"\b(?:sugar|glucose|bg|bs|reading|levels?|azucar)\b (?:\w+ ){0,3}(?:is |of |at |in |says |reads |en |de )?(?:hi|high|lo|critical)\b.{0,60}\b(?:vomit\w*|confus\w*|drowsy|breath\w*|unconscious|wont wake|fruity)",
            r"\bfruity (?:breath|smell)|\bbreath smells? (?:fruity|sweet|like nail polish)|\bketones? (?:are |is )?(?:high|large|very high)\b|\bdka\b|\bketoacidosis\b",
            r"\b(?:diabet\w*|type 1|type one|insulin)\b.{0,80}\b(?:confus\w*|not making sense|unconscious|wont wake|unresponsive|passed out|seizure|slurr\w*|drowsy|confundid\w*)\b",
        ),
    ),
    # --- unresponsive / collapse / choking / other
    (
        "unconscious",
        "strong",
        _rx(
            r"\b(?:collapsed|unconscious|unresponsive|wont wake(?: up)?|cant wake (?:him|her|them|my)|not responding|isnt responding|wont respond|not waking up|doesnt respond|is out cold)\b",
            r"\b(?:se desmayo|se desvanecio|se desplomo|se cayo redondo|inconsciente|no responde|no reacciona|no despierta)\b",
        ),
    ),
    ("unconscious", "weak", _rx(r"\b(?:passed out|fainted|blacked out)\b")),
    (
        "choking",
        "strong",
        _rx(
            r"\bchoking\b.{0,60}\b(?:cant|cannot|not|turning|blue|breathe|cry|cough|talk|speak)\b",
            r"\b(?:stuck|lodged) in (?:his|her|my|their) (?:throat|windpipe)\b.{0,40}\b(?:breathe|breath|cough|blue)",
            r"\b(?:se (?:esta )?atragant\w*|atragantad\w*)\b",
        ),
    ),
    ("choking", "weak", _rx(r"\bchoking\b")),
    (
        "abdominal",
        "strong",
        _rx(
            r"\b(?:sudden|severe|terrible|excruciating|worst|unbearable) (?:\w+ ){0,2}(?:belly|abdominal|stomach|abdomen) pain\b.{0,60}\b(?:rigid|hard|vomit\w*|blood|faint|fever|cant (?:move|stand|walk))",
            r"\b(?:belly|stomach|abdomen) (?:is )?(?:rigid|hard as a board)\b",
        ),
    ),
    (
        "testicular",
        "strong",
        _rx(
            r"\b(?:sudden|severe|terrible|excruciating) (?:\w+ ){0,2}(?:pain (?:in|on) (?:my|his) )?(?:testicle|testicular|scrotum|scrotal|balls?)\b",
        ),
    ),
    (
        "heat_stroke",
        "strong",
        _rx(
            r"\b(?:stopped|not|isnt) sweating\b.{0,60}\b(?:hot|confus\w*|dizz\w*|faint)|\b(?:confus\w*|burning hot)\b.{0,60}\bstopped sweating\b",
            r"\b(?:im|hes|shes|is) having (?:a )?heat ?stroke\b",
        ),
    ),
    (
        "general",
        "strong",
        _rx(
            r"\bfeel(?:s|ing)? like (?:im|i am|hes|shes|i|he|she)(?: am| is)? (?:dying|going to die)\b",
            r"\b(?:im|hes|shes) dying\b(?! to)",
            r"\b(?:hes|shes|is|looks|gone|went|turned|turning) (?:\w+ )?(?:blue|grey|gray)\b(?! eyes)",
            r"\bsnoring\b.{0,40}\b(?:wont wake|cant wake|weird\w*|strange\w*|blue)\b|\b(?:snorted|injected|shot up|smoked)\b.{0,60}\b(?:blue|wont wake|not breathing|unresponsive|snoring)",
            r"\b(?:baby|newborn|infant)\b.{0,40}\b(?:floppy|limp|wont wake|blue|not breathing|unresponsive)\b",
            r"\b(?:me estoy muriendo|siento que me muero|se esta muriendo)\b",
        ),
    ),
)

# Messages with a breathing "strong" match that are plainly about a blocked nose.
_BREATHING_BENIGN = re.compile(r"\b(?:through (?:my|his|her|the) nose|stuffy|blocked nose|congest\w*)\b")

# Everyday explanations that make a bare condition word ("my chest hurts") not a red flag.
_WEAK_BENIGN: dict[str, re.Pattern[str]] = {
    "chest_pain": re.compile(
        r"\b(?:cough\w*|cold|flu|sneez\w*|press\w* on|touch\w*|pulled|muscle|gym|lift\w*|workout|heartburn|reflux|"
        r"indigestion|costochondritis|bruise\w*|spicy)\b"
    ),
}

_GLUCOSE = re.compile(
    r"\b(?:sugar|glucose|bg|bs|reading|azucar|glucosa)\b(?: \w+){0,3}? (?:is |of |at |en |de |was |reads |says )?(\d+(?:\.\d)?)\b"
)


def _dangerous_glucose(norm: str) -> bool:
    """A blood glucose reading in the danger range (mg/dL or mmol/L)."""
    for m in _GLUCOSE.finditer(norm):
        value = float(m.group(1))
        if value < 3.0 or 10 < value < 55 or value >= 450:
            return True
    return False


_PREGNANCY_CONTEXT = re.compile(
    r"\bpregnan\w*|\b\d+ weeks? (?:pregnant|along|gestation)\b|\b(?:waters?|water) (?:broke|broken|has broken)\b|\bfetal\b|\bmidwife\b|\bcontractions\b|\bexpecting\b|\bembarazad\w*|\bim \d+ weeks\b|\b\d+ semanas de embarazo\b"
)
_INFECTION_CONTEXT = re.compile(
    r"\b(?:infection|infected|surgery|operation|uti|pneumonia|wound|cellulitis|flu|chemo\w*|infeccion|operacion)\b"
)
_SEPSIS_SIGNS = (
    re.compile(r"\bconfus\w*|\bnot making sense\b|\bconfundid\w*"),
    re.compile(
        r"\bbreathing (?:very |really )?(?:fast|rapid\w*|quickly)|\brapid breathing\b|\brespira (?:muy )?rapido\b"
    ),
    re.compile(r"\bmottled\b|\bblotchy\b|\b(?:skin|lips) (?:is |are |looks? )?(?:blue|grey|gray|pale)\b"),
    re.compile(
        r"\b(?:high|very high) (?:fever|temperature)\b|\bshaking chills\b|\bshivering\b|\brigors\b|\bfiebre alta\b"
    ),
    re.compile(r"\bheart (?:is )?(?:racing|pounding)\b|\bfast (?:heart|pulse)\b"),
    re.compile(
        r"\bfeel(?:s|ing)? like (?:im|hes|shes|i|he|she) (?:dying|going to die)\b|\bhard to wake\b|\bnot peed\b|\bno urine\b"
    ),
)

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "un": 1,
    "una": 1,
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "a": 1,
    "an": 1,
}
_AGE = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|un|una|uno|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|a|an)"
    r" ?(days?|weeks?|wks?|months?|mths?|mos?|dias|semanas|mes|meses)\b"
)
_NEWBORN = re.compile(r"\bnewborn\b|\brecien nacid\w*")
_FEVER_WORD = re.compile(
    r"\bfever\w*|\btemp\w*\b|\bthermometer\b|\bhot\b|\bburning up\b|\bfiebre\b|\bcalentura\b|\bfebril\b|\bcaliente\b"
)
_TEMPERATURE = re.compile(r"\b(\d{2,3}(?:[.,]\d)?)\s?(?:f|c|degrees?|grados?)?\b")
# A reading is a fever word on its own ("our 12 day old is 38.1"): a decimal in the fever range.
_FEVER_READING = re.compile(r"\b(?:3[89]|4[0-2])[.,]\d\b|\b(?:10[0-6])[.,]\d\s?f?\b|\b10[1-6] ?f\b")


def _infant_fever(norm: str) -> bool:
    """Fever in a baby under 3 months (38 C / 100.4 F or more), or 39 C / 102.2 F or more from
    3 to 6 months: both need medical assessment now (the training set's infant-fever messages
    showed both, and readings typed without the word "fever")."""
    if not (_FEVER_WORD.search(norm) or _FEVER_READING.search(norm)) or _PREGNANCY_CONTEXT.search(norm):
        return False
    youngest = 0 if _NEWBORN.search(norm) else None
    for m in _AGE.finditer(norm):
        value = int(m.group(1)) if m.group(1).isdigit() else _NUMBER_WORDS[m.group(1)]
        unit = m.group(2)
        days = value * (1 if unit.startswith("d") else 7 if unit.startswith(("w", "s")) else 30)
        # "fever for 3 days" is a duration, not an age: an age goes with "old" or a baby word.
        tail = norm[m.end() : m.end() + 12]
        head = norm[max(0, m.start() - 25) : m.start()]
        if ("old" in tail or re.search(r"\b(?:baby|newborn|infant|bebe|is|de|born|nacio)\b", head)) and days < 184:
            youngest = days if youngest is None else min(youngest, days)
    if youngest is None:
        return False
    temps = [float(t.replace(",", ".")) for t in _TEMPERATURE.findall(norm)]
    temps = [t for t in temps if 35 <= t <= 43 or 95 <= t <= 110]
    limit_c, limit_f = (38.0, 100.4) if youngest < 91 else (39.0, 102.2)
    if temps:
        return any(t >= limit_c if t < 50 else t >= limit_f for t in temps)
    # "my 6 week old has a fever", no reading: under 3 months is enough, for a particular baby
    # ("what temperature counts as a fever in a newborn?" asks about none).
    return youngest < 91 and bool(PERSONAL.search(norm))


def _benign_explanation(category: str, norm: str) -> bool:
    pattern = _WEAK_BENIGN.get(category)
    return bool(pattern and pattern.search(norm))


def _sepsis(norm: str) -> bool:
    return bool(_INFECTION_CONTEXT.search(norm)) and sum(1 for s in _SEPSIS_SIGNS if s.search(norm)) >= 2


# ------------------------------------------------------------------------------ concepts
# Danger signs as concepts, combined: "crushing pain behind my breastbone" + "sweating" is a
# cardiac picture however it is worded. Two concepts from one picture make a strong finding;
# this generalises to phrasings the patterns above never saw.

CONCEPTS: dict[str, re.Pattern[str]] = {
    "chest": re.compile(r"\b(?:chest|breastbone|breast bone|sternum|ribcage|pecho|esternon)\b"),
    "severe_pain": re.compile(
        r"\b(?:crushing|squeezing|severe|terrible|horrible|really bad|very bad|so bad|excruciating|unbearable|worst|"
        r"agoni[sz]ing|intense|tearing|ripping|presion|opresion|aprieta|fuerte)\b"
    ),
    "sweating": re.compile(r"\bsweat\w*|\bclammy\b|\bsudor\w*|\bsudando\b"),
    "breathless": re.compile(
        r"\bshort of breath\b|\bbreathless\b|\bcant (?:catch (?:my|his|her) )?breath\w*|\b(?:hard|struggling) to breathe\b|"
        r"\bgasping\b|\bfalta (?:el )?aire\b|\bme falta el aire\b|\bme ahogo\b|\bno puedo respirar\b"
    ),
    "radiating": re.compile(r"\b(?:left arm|jaw|down (?:my|his|her) arm|brazo izquierdo|mandibula)\b"),
    "nausea": re.compile(r"\bnause\w*|\bvomit\w*|\bthrowing up\b|\bthrew up\b|\bfeel(?:s|ing)? sick\b|\bmareo\b"),
    "speech": re.compile(
        r"\bcant (?:get|find) (?:her|his|my|their|the) words\b|\bwords (?:out|wrong|jumbled)\b|\bslurr\w*|"
        r"\bno (?:puede|puedo) hablar\b|\bhabla (?:raro|mal)\b|\bmaking no sense\b|\bnot making sense\b"
    ),
    "limb": re.compile(
        r"\b(?:arm|leg|hand|side)\b (?:\w+ )?(?:flopped|went limp|is limp|went dead|is dead|gave way|wont move|numb|weak)\b|"
        r"\bcant (?:lift|raise|move|feel) (?:her|his|my|their) (?:arm|leg|hand)\b|\bno puede (?:levantar|mover) el brazo\b"
    ),
    "face": re.compile(r"\bface\b.{0,20}\b(?:droop\w*|crooked|lopsided|fallen|torcida|caida)\b|\bcara torcida\b"),
    "wound": re.compile(
        r"\bstabbed\b|\bstab wound\b|\bgunshot\b|\bshot (?:in|through)\b|\bimpaled\b|\bdeep (?:cut|wound|gash)\b|\bapunalad\w*"
    ),
    "bleeding": re.compile(r"\bbleed\w*|\bblood\w*|\bsangr\w*"),
    "heavy": re.compile(
        r"\b(?:through everything|everywhere|a lot|lots|heavily|wont stop|keeps coming|soaking|pouring|mucho)\b"
    ),
    "seizure": re.compile(r"\bseizures?\b|\bfits?\b|\bfitting\b|\bconvuls\w*"),
    "repeat": re.compile(r"\banother (?:one|seizure|fit)\b|\bagain\b|\bback to back\b|\bbetween them\b"),
    "unresponsive": re.compile(
        r"\b(?:isnt|not|wont|hasnt) (?:waking|woken|wake|responding|respond)\b|\bunresponsive\b|\bunconscious\b|\bno responde\b"
    ),
    "abdominal": re.compile(
        r"\b(?:stomach|belly|abdominal|abdomen|tummy|barriga|vientre)\b.{0,15}\b(?:pain|ache|cramp\w*|dolor)\b"
    ),
    "extra_dose": re.compile(
        r"\b(?:twice|double|triple|extra|again|too many|too much|two doses|por duplicado)\b(?! (?:a|per|every|each) (?:day|week|night))"
    ),
    "pills": re.compile(r"\b(?:pills?|tablets?|meds|medication|medicine|doses?|insulin|pastillas)\b"),
    "drowsy": re.compile(r"\b(?:dizzy|drowsy|slow|confused|sleepy|faint|woozy|out of it|mareado|confundid\w*)\b"),
    "jump": re.compile(
        r"\b(?:jump|throw myself) (?:off|from|in front of)\b|\b(?:hang|shoot|drown|stab) myself\b|\bstep in front of\b|"
        r"\btirarme (?:de|por|al)\b"
    ),
    "first_person_intent": re.compile(
        r"\b(?:im going to|i am going to|going to|im gonna|i will|ill|i want to|i plan to|tonight|voy a)\b"
    ),
}

# Danger signs counted across pictures, so that combinations nobody wrote a pattern for still
# raise the alarm ("fell off his bike, was out for a minute, now confused and vomiting"). Core
# signs are dangerous in themselves (altered consciousness, blue lips, struggling to breathe,
# fitting, heavy blood loss, a plan to die, a stroke sign); supporting signs are common on their
# own (fever, vomiting, a fall). Alarm: two core signs, a core sign with a supporting one, or
# three supporting signs; always subject to the same past/hypothetical/educational gates.
_BODY = r"(?:lips?|face|skin|fingers?|fingertips|mouth|tongue|nails|hes|shes|he is|she is|is|turning|going|gone|went|looks?|se pone|se puso|esta|se esta poniendo)"
CORE_SIGNS: dict[str, re.Pattern[str]] = {
    "intent": re.compile(
        r"\btonight is the night\b|\bdecided\b|\bgoodbye\b|\blined up\b|\bcant do this anymore\b|\bcant go on\b|"
        r"\bend (?:it|everything|things|my life)\b|\bterminar con todo\b|\bacabar con todo\b|\bno quiero seguir\b|"
        r"\bno puedo mas\b|\bya no aguanto\b|\b(?:left a|suicide|goodbye) note\b|\bnote saying\b|\bsorry for everything\b|"
        r"\bwont be here\b|\bdont want to be here\b|\bdespedid\w*\b|\bdespedirme\b|\bbetter (?:off )?without (?:me|him|her|them)\b|"
        r"\bno reason to live\b|\bbought a (?:gun|rope)\b|\b(?:gun|rope|pills|tablets) (?:is |are )?(?:ready|prepared|lined up)\b|"
        r"\btirar(?:me|se) (?:por|de|desde|al)\b|\bjump (?:off|from|out of|in front of)\b|\bthrow (?:myself|himself|herself)\b|"
        r"\bquitar(?:me|se) la vida\b|\bno quiero vivir\b|\b(?:hoarding|stockpiling|saving up) (?:my |his |her )?(?:pills|meds|tablets)\b|"
        r"\b(?:take|taking|swallow) them all\b|\b(?:happier|better) (?:if i (?:just )?(?:disappeared|was gone|wasnt here|died)|without me)\b|"
        r"\bif i (?:just )?disappeared\b|\b(?:wrote|written|writing|made) (?:my|a) (?:will|goodbye|last)\b|"
        r"\bwants? to jump\b"
    ),
    "convulsing": re.compile(
        r"\bshaking all over\b|\bjerking\b|\bfitting\b|\bfits\b|\bconvuls\w*|\bseizur\w*|\bstiff and (?:shaking|jerking)\b|"
        r"\beyes (?:rolled|rolling)\b|\bshaking uncontrollably\b|\bfoaming at the mouth\b|\bataque epileptico\b"
    ),
    "airway": re.compile(
        r"\btongue (?:feels |is |looks |got )?(?:thick|swollen|big|heavy|huge)\b|\bthroat (?:is |feels )?(?:tight|closing|swelling|swollen)\b|"
        r"\b(?:eyes?|face|lips?) (?:are |is )?(?:puffing|swelling|swollen) (?:shut|closed|up)\b|\bhoarse\b|\bvoice (?:is )?(?:changing|going|hoarse)\b|\bcant swallow\b|\blengua (?:hinchada|gorda)\b|"
        r"\bgarganta (?:cerrada|se cierra|hinchada)\b|\bse (?:le|me) cierra la garganta\b"
    ),
    "cyanosis": re.compile(
        rf"\b{_BODY}\b.{{0,25}}\b(?:blue|bluish|blueish|purple|purplish|ashen|dusky|grey|gray|azul\w*|morad\w*)\b"
    ),
    "breathing": re.compile(
        r"\b(?:cant|can barely|can hardly|struggling to|struggles to|fighting to|hard to|difficult to|trouble|unable to) "
        r"(?:breathe|breath|get air|get any air|catch (?:my|his|her|their) breath|talk|speak)\b|\bgasping\b|\bchoking\b|"
        r"\bstill struggling\b|\b(?:inhaler|reliever|puffer|nebuli[sz]er)\b.{0,40}\b(?:every \d+ minutes|not helping|isnt helping|"
        r"no le hace nada|doesnt help|isnt working|not working|doesnt work|still)\b|\b(?:having|in the middle of) an? (?:bad |severe )?asthma attack\b|"
        r"\bwhistling\b|\bwheez\w*|\bstridor\b|\bbreathing (?:very |really |so )?(?:fast|rapid\w*|hard|noisily|strangely|slowly|slow|"
        r"shallow|weird\w*|funny|irregular\w*)\b|\bbarely breathing\b|\bsnoring\b|\bahog\w*|\bno (?:puede|puedo) (?:respirar|hablar)\b|"
        r"\b(?:le|me) cuesta respirar\b|\brespira (?:muy )?(?:rapido|mal|lento|con dificultad)\b|\bhunden las costillas\b|"
        r"\bcostillas\b|\bribs\b|\bsilbido\b|\b(?:oxygen|o2|sats?|saturation) (?:\w+ ){0,3}(?:[5-8]\d|9[01])\b"
    ),
    "speech": re.compile(
        r"\btalking nonsense\b|\bspeaking gibberish\b|\bgibberish\b|\bwords (?:are |come out )?(?:jumbled|garbled|wrong|muddled)\b|"
        r"\bwords (?:stopped|stop|dont|didnt) mak\w* sense\b|\bcant get (?:his|her|my|their) words out\b|\bslurr\w*|"
        r"\bcant (?:speak|talk) (?:properly|clearly|right)\b|\bhabla (?:raro|rara|mal|arrastrad\w*|enredad\w*)\b|"
        r"\bno se le entiende\b|\btraba la lengua\b|\bmaking no sense\b"
    ),
    "limb": re.compile(
        r"\bcant hold (?:his|her|my|their) (?:cup|phone|fork|spoon|pen|glass)\b|\b(?:keeps|kept) dropping\b|\bdropping things\b|"
        r"\b(?:arm|leg|hand|side) (?:is |went |feels |has gone |gone )?(?:weak|numb|limp|dead|heavy|floppy)\b|"
        r"\bcant (?:move|lift|raise|feel) (?:his|her|my|their|the) (?:\w+ )?(?:arm|leg|hand|side)\b|"
        r"\bno (?:puede|puedo) (?:mover|levantar) (?:el|la) (?:\w+ )?(?:brazo|pierna|mano|lado)\b|\bbrazo dormido\b"
    ),
    "severe_head": re.compile(
        r"\b(?:pounding|splitting|worst|severe|terrible|thunderclap|excruciating) headache\b|\bpeor dolor de cabeza\b"
    ),
    "blood_amount": re.compile(
        r"\b(?:mouthfuls?|cupfuls?|bright red|lots of|so much|a lot of|pool of|clots?)\b.{0,20}\bblood\b|"
        r"\bblood\b.{0,20}\b(?:everywhere|wont stop|pouring|pumping|spurting|gushing)\b|\b(?:pumping|spurting|gushing)\b|"
        r"\b(?:soaked|soaking|drenched)\b|\bthrough the (?:towel|bandage|dressing)\b|\b(?:vomit\w*|throwing up|coughing up) blood\b|"
        r"\bcoffee grounds\b|\bposos de cafe\b|\b(?:black|tarry) (?:stool|poop|poo)\b|\b(?:muchisima|mucha) sangre\b|\bno (?:para|deja) de sangrar\b|\bvomitando sangre\b|\btosiendo sangre\b|\bsangre a chorros\b"
    ),
    "altered": re.compile(
        r"\b(?:confused(?! (?:about|by|whether|if|as to|with))|confusion|drowsy|very sleepy|really sleepy|so sleepy|"
        r"not making sense|out for (?:a|about)|knocked out|passed out|blacked out|wont wake|cant wake|hard to wake|"
        r"unresponsive|unconscious|not responding|not coming round|wont come round|floppy|limp|mumbling|incoherent|"
        r"out of it|nodding off|wont answer properly|not answering properly|disoriented|delirious|hallucinating|"
        r"confundid\w*|inconsciente|no responde|no reacciona|no se despierta|no despierta|desorientad\w*)\b"
    ),
}
SUPPORT_SIGNS: dict[str, re.Pattern[str]] = {
    "post_surgery": re.compile(
        r"\b(?:after|since) (?:my |his |her |the )?(?:\w+ )?(?:surgery|operation|op|c section|caesarean|cesarea)\b|\bpost ?op\b"
    ),
    "trauma": re.compile(
        r"\b(?:fell|fall|fallen|rolled off|crash\w*|hit by|kicked|knocked|accident|bike|car|stairs|ladder|helmet|banged|"
        r"cayo|caida|golpe)\b"
    ),
    "wound": re.compile(r"\b(?:cut|gash|stabbed|knife|saw|glass|bottle|sierra|cuchillo|se corto|me corte)\b"),
    "vomiting": re.compile(
        r"\bvomit\w*|\bthrowing up\b|\bthrew up\b|\b(?:keep|keeps|kept) being sick\b|\bvomitando\b|\bganas de vomitar\b"
    ),
    "long_time": re.compile(
        r"\b(?:more than|over|longer than|for|going on for|its been|it has been|been) (?:(?:about|almost|nearly) )?"
        r"(?:\d+|five|ten|fifteen) (?:minutes|mins)\b|\bmas de (?:\d+|cinco|diez) minutos\b|\blleva \d+ minutos\b|"
        r"\bone after another\b|\bin between\b"
    ),
    "means": re.compile(r"\b(?:pills|tablets|rope|bridge|gun|razor|blade|window|pastillas|cuerda|puente|ventana)\b"),
    "night": re.compile(
        r"\b(?:tonight|esta noche)\b|\bwhen (?:everyone|everybody) (?:is|s) (?:asleep|gone|out)\b|\b(?:going to|gonna) do it\b"
    ),
    "swelling": re.compile(r"\bswell\w*|\bswollen\b|\bhinchad\w*|\bhinch\w*"),
    "exposure": re.compile(
        r"\b(?:sting|stung|hornet|bee|wasp|insect|bitten|injection|jab|shot|ate|eaten|peanuts?|nuts?|shellfish|shrimp|"
        r"sesame|antibiotic|new (?:medicine|medication)|picadura|avispa|abeja|comi)\b"
    ),
    "itch": re.compile(r"\bhives\b|\bitchy\b|\bitching\b|\brash all over\b|\bronchas\b|\burticaria\b|\bpicor\b"),
    "ingestion": re.compile(
        r"\b(?:drank|swallowed|got into|bebio|se bebio|trago|se trago|se comio|empty bottle)\b|"
        r"\bate (?:most|all|some|half|a lot) of\b|\bfound (?:my|her|his|the) (?:\w+ )?(?:pills|tablets|medicine|meds)\b"
    ),
    "medicine": re.compile(
        r"\b(?:pills|tablets|meds|medicine|medication|sleeping tablets|pastillas|tabletas|comprimidos|un monton)\b"
    ),
    "vision": re.compile(
        r"\b(?:spots|flashing|blurr\w*|double vision|vision is double|seeing double|lost vision|cant see)\b"
    ),
    "anticoagulant": re.compile(
        r"\b(?:warfarin|blood thinners?|anticoagulant\w*|apixaban|rivaroxaban|eliquis|xarelto|sintrom)\b"
    ),
    "fever": re.compile(
        r"\bfever\w*|\b(?:temp|temperature) (?:of |is |was |at )?(?:3[89]|4[0-2]|10[1-6])\b|\bhigh temp\w*|\bfiebre\b"
    ),
    "rigors": re.compile(r"\bshaking\b|\bshivering\b|\bchills\b|\brigors\b|\btiritando\b"),
    "tachycardia": re.compile(r"\bheart (?:is )?(?:racing|pounding)\b|\bpulse (?:is )?(?:racing|very fast)\b"),
    "not_feeding": re.compile(r"\b(?:wont|not|isnt|refusing to) (?:feed|feeding|eat|eating|drink|drinking)\b"),
    "not_answering": re.compile(r"\b(?:isnt|not|wont) (?:answering|picking up)\b|\bno contesta\b"),
    "shock": re.compile(
        r"\blightheaded\b|\blight headed\b|\bclammy\b|\bsweaty\b|\bpale\b|\bfaint\b|\bmareado\b|\bpalid[oa]\b|\bsudor frio\b"
    ),
    "pain": re.compile(
        r"\b(?:severe|terrible|really bad|worst|excruciating|unbearable) (?:\w+ )?pain\b|\bduele mucho\b"
    ),
}
# Which emergency guidance a combination of core signs gets (first match wins).
_SIGN_CATEGORY = (
    ("intent", "self_harm"),
    ("convulsing", "seizure"),
    ("airway", "anaphylaxis"),
    ("cyanosis", "breathing"),
    ("breathing", "breathing"),
    ("speech", "stroke"),
    ("limb", "stroke"),
    ("severe_head", "stroke"),
    ("blood_amount", "bleeding"),
    ("altered", "unconscious"),
)
# Pairs of supporting signs never count; listed here are core/supporting pairs that don't either.
_HARMLESS_PAIRS = frozenset({frozenset({"breathing", "exposure"})})

# A diagnosed, familiar pattern the person is asking about ("my usual migraine aura").
_KNOWN_HARMLESS = re.compile(r"\b(?:migraines?|aura|my usual|as usual|always get|i often get|i usually get)\b")


def _danger_signs(norm: str) -> Finding | None:
    core = [name for name, rx in CORE_SIGNS.items() if rx.search(norm)]
    support = [name for name, rx in SUPPORT_SIGNS.items() if rx.search(norm)]
    if len(core) + len(support) == 2 and frozenset(core + support) in _HARMLESS_PAIRS:
        return None
    alarm = len(core) >= 2 or (len(core) == 1 and len(support) >= 1) or len(support) >= 3
    if not alarm or _KNOWN_HARMLESS.search(norm):
        return None
    category = next((cat for sign, cat in _SIGN_CATEGORY if sign in core), "general")
    return Finding(category, "strong", " + ".join(core + support))


PICTURES: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = (
    # category, any of these concept combinations (all concepts in a combination must occur)
    ("chest_pain", (("chest", "severe_pain"), ("chest", "sweating"), ("chest", "breathless"), ("chest", "radiating"))),
    ("stroke", (("speech", "limb"), ("speech", "face"), ("face", "limb"))),
    ("bleeding", (("wound", "bleeding"), ("bleeding", "heavy", "drowsy"))),
    ("seizure", (("seizure", "unresponsive"), ("seizure", "repeat"))),
    ("overdose", (("pills", "extra_dose", "drowsy"),)),
    ("self_harm", (("jump", "first_person_intent"),)),
)
PREGNANCY_PICTURES: tuple[tuple[str, ...], ...] = (
    ("abdominal", "severe_pain"),
    ("abdominal", "bleeding"),
    ("bleeding", "heavy"),
)


def _pictures(norm: str, pregnant: bool) -> list[Finding]:
    present = {name for name, rx in CONCEPTS.items() if rx.search(norm)}
    found = []
    for category, combos in PICTURES:
        for combo in combos:
            if all(c in present for c in combo):
                found.append(Finding(category, "strong", " + ".join(combo)))
                break
    if pregnant:
        for combo in PREGNANCY_PICTURES:
            if all(c in present for c in combo):
                found.append(Finding("pregnancy", "strong", " + ".join(combo)))
                break
    return found


@dataclass(frozen=True)
class Finding:
    category: str
    strength: Strength
    evidence: str


def red_flags(message: str, profile: PatientProfile | None = None) -> list[Finding]:
    """Every red-flag pattern that matches, before the context decides (for reports). Figures of
    speech ("this traffic is giving me a heart attack") are blanked out first."""
    norm = strip_figures(normalize(message))
    found: list[Finding] = []
    pregnant = bool(_PREGNANCY_CONTEXT.search(norm)) or bool(profile and profile.pregnant)
    for category, strength, pattern in RULES:
        if category == "pregnancy" and not pregnant:
            continue
        m = pattern.search(norm)
        if m is None:
            continue
        if category == "breathing" and _BREATHING_BENIGN.search(norm):
            continue
        found.append(Finding(category, strength, m.group(0)))
    if _infant_fever(norm):
        found.append(Finding("infant_fever", "strong", "fever under 3 months"))
    if _sepsis(norm):
        found.append(Finding("sepsis", "strong", "infection with sepsis signs"))
    if _dangerous_glucose(norm):
        found.append(Finding("diabetic", "strong", "blood glucose in the danger range"))
    found.extend(_pictures(norm, pregnant))
    combined = _danger_signs(norm)
    if combined is not None:
        found.append(combined)
    found = [f for f in found if f.strength == "strong" or not _benign_explanation(f.category, norm)]
    return found


def doubtful(message: str) -> bool:
    """The message reads as a question about, not a report of, an emergency: educational, past,
    hypothetical or joking, with nothing said to be happening now. Only then may the learned
    stage overrule a rule match (``chatbot.safety._emergency``)."""
    norm = normalize(message)
    if ACUTE.search(norm):
        return False
    general = EDU.search(norm) and not PERSONAL.search(norm)  # "my 2 month old ... what do I do" is not
    return bool(general or PAST.search(norm) or HYPOTHETICAL.search(norm) or joking(norm))


# A named condition used as the topic of a question rather than as what is happening: "my
# stroke risk", "meningitis vaccines", "caring for him after his stroke", "the Heart Attack
# Grill" (training part G). Only when every mention of the name is framed so.
_TOPIC_AFTER = (
    r"(?:risks?|vaccines?|vaccinations?|jabs?|shots?|signs?|symptoms?|recovery|survivors?|grill|rules|clinic|"
    r"nurse|team|ward|awareness|training|course|leaflet|poster|handout|history|prevention|medicines?|tablets?|"
    r"drugs?|support|rehab\w*|screening|alarms?)"
)
# Not "of" or "about": "complaining of chest pain" is a report.
_TOPIC_BEFORE = r"(?:after|since|prevent\w*|avoid\w*|lower\w*|reduce\w*|like)"


def _only_as_topic(norm: str, evidence: str) -> bool:
    ev = re.escape(evidence.strip())
    if not ev:
        return False
    mentions = len(re.findall(rf"\b{ev}\b", norm))
    framed = len(
        re.findall(
            rf"(?:\b{_TOPIC_BEFORE} (?:an? |the |my |his |her |their |your )?(?:mini |small |minor |big )?{ev}\b)"
            rf"|(?:\b{ev} {_TOPIC_AFTER}\b)",
            norm,
        )
    )
    return mentions > 0 and framed >= mentions


@dataclass(frozen=True)
class Assessment:
    emergency: bool
    category: str = ""
    reason: str = ""


def assess(message: str, profile: PatientProfile | None = None) -> Assessment:
    """Whether ``message`` is an emergency, with the category and what matched."""
    findings = red_flags(message, profile)
    if not findings:
        return Assessment(False)
    norm = normalize(message)
    acute = bool(ACUTE.search(norm))
    personal = bool(PERSONAL.search(norm))
    edu = bool(EDU.search(norm))
    distanced = bool(PAST.search(norm)) or bool(HYPOTHETICAL.search(norm))
    for f in findings:
        if f.strength == "strong" and (acute or (not distanced and (personal or not edu))):
            return Assessment(True, f.category, f"{f.category}: '{f.evidence}'")
    for f in findings:
        if f.strength == "weak" and not acute and _only_as_topic(norm, f.evidence):
            continue
        if f.strength == "weak" and (acute or (personal and not edu and not distanced)):
            return Assessment(True, f.category, f"{f.category}: '{f.evidence}' (personal, current)")
    first = findings[0]
    return Assessment(False, first.category, f"not current: '{first.evidence}'")
