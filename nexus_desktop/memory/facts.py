"""Facts the user states about themselves and their world, found by patterns.

The bundled model is too small to be trusted with this, so the common first-person forms
are recognised here, conservatively: a question, a hypothetical, a strong hedge or a
negation never makes a fact, and every pattern is anchored at the start of a clause, so
"you said my favorite color is blue" is not taken as the user's own statement.

What becomes which fact (subject, key -> value):
- "my favorite colour is teal" -> user, favorite color -> teal (keys spelled one way)
- "my wife's name is Ana", "my dog is called Rex", "I have a cat named Miso",
  "my sister is Ana" -> user's wife / user's dog / user's cat / user's sister, name
- "I'm a nurse", "I work as a nurse" -> user, job; "I'm vegetarian" -> user, diet
- "I'm 34", "I'm 34 years old" -> user, age; "I was born in 1990" -> birth year
- "I live in / moved to / am based in Lyon" -> home city; "I'm from / grew up in" ->
  hometown; "I was born in Lyon" -> birthplace
- "I work at/for Acme" -> employer; "call me Sam", "I go by Sam" -> preferred name
- "I love/like/hate/don't like pizza" -> user, "feeling about pizza" -> loves / likes /
  hates / dislikes: one fact per thing, so "I hate pizza" later supersedes "I love pizza"
  while "I love jazz" stands beside it
- "my sister lives in Paris" -> user's sister, home city (the same verbs work for people
  the user names with "my")
- "remember that the dentist is on Friday" -> the dentist, note -> on Friday

"actually", "no," and "correction:" mark a correction (slightly more confident);
"remember that" raises confidence; "I think" and "probably" lower it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from nexus_desktop.memory.fact_words import (
    DIETS,
    EMPTY_VALUES,
    MONTHS,
    NOT_KEYS,
    NOT_NAMES,
    PETS,
    RELATIONS,
    is_job,
)
from nexus_desktop.store.fact_phrasing import (
    FEELING_PREFIX,
    NOTE_KEY,
    USER,
    fact_sentence,
    normalise_key,
)


@dataclass(frozen=True)
class FactCandidate:
    """A fact found in a message, not yet stored."""

    subject: str      # "user", "user's sister", or the thing a note is about
    key: str          # "favorite color", "home city", "feeling about pizza", "note"
    value: str        # as the user wrote it: "teal", "Lyon", "loves", "on Friday"
    text: str         # one sentence for the prompt: "The user's favorite color is teal."
    confidence: float


def extract_facts(text: str) -> list[FactCandidate]:
    """Every fact stated in ``text``; a later statement of the same fact wins."""
    found: dict[tuple[str, str], FactCandidate] = {}
    greeted = False
    for sentence in _sentences(_tidy(text)):
        for subject, key, value, confidence in _sentence_facts(sentence, greeted):
            found.pop((subject, key), None)
            found[(subject, key)] = FactCandidate(
                subject, key, value, fact_sentence(subject, key, value),
                round(min(max(confidence, 0.1), 0.95), 2),
            )
        greeted = _GREETING_ONLY.match(sentence) is not None
    return list(found.values())


# --- sentences and clauses ---------------------------------------------------------------

# Facts are stated in short sentences; a longer run of text (a pasted document without
# full stops) is not read, which also bounds the time spent on it.
MAX_SENTENCE_CHARS = 1000
_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "st", "prof", "jr", "sr", "vs", "etc",
                            "mt", "ave", "e.g", "i.e"})
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?:\s+|$)|\n+|;\s*")


def _tidy(text: str) -> str:
    return (text.replace("\u2019", "'").replace("\u2018", "'")
            .replace("\u201c", '"').replace("\u201d", '"'))


def _sentences(text: str) -> Iterator[str]:
    """Split at . ! ? ; and line ends, but not after "Dr." or "St."; the end mark is kept."""
    start = 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start:match.start()].split()
        if match[0].startswith(".") and before and before[-1].lower() in _ABBREVIATIONS:
            continue
        yield text[start:match.end()].strip()
        start = match.end()
    if text[start:].strip():
        yield text[start:].strip()


_CONTRACTIONS = [(re.compile(p, re.IGNORECASE), r) for p, r in (
    (r"\bi'm\b|\bim\b", "i am"), (r"\bi've\b", "i have"), (r"\bi'd\b", "i would"),
    (r"\bi'll\b", "i will"), (r"\bwe're\b", "we are"), (r"\bwe've\b", "we have"),
    (r"\bdon't\b|\bdont\b", "do not"), (r"\bdoesn't\b", "does not"), (r"\bdidn't\b", "did not"),
    (r"\bisn't\b", "is not"), (r"\baren't\b", "are not"), (r"\bwasn't\b", "was not"),
    (r"\bcan't\b|\bcant\b", "cannot"), (r"\bwon't\b", "will not"), (r"\blet's\b", "let us"),
    (r"\b(what|who|where|when|how|that|it|there)'s\b", r"\1 is"),
)]

_QUESTION_END = re.compile(r"\?[\s!.\"')\]]*$")
# "My name is Sam, what's yours?": a question to the assistant after a statement.
_ASIDE_QUESTION = re.compile(
    r"[,;:\u2013\u2014-]\s*[^,;:]*\b(?:you|your|yours)\b[^,;:]*\?[\s!.\"')\]]*$", re.IGNORECASE)
_QUESTION_START = re.compile(
    r"^(?:what|who|whom|whose|where|when|why|how|which|whats|do|does|did|is|are|am|was|"
    r"were|can|could|would|will|should|shall|have|has|had|may|might|must|tell me|guess|"
    r"remind me|any idea)\b", re.IGNORECASE)
# Asking to remember is a statement, even when it is phrased as a question.
_REQUEST = re.compile(
    r"^(?:(?:please|pls|and|also|oh|so)\s+)*(?:(?:can|could|would|will) you (?:please )?|"
    r"i want you to |i need you to |you should |you need to |try to |make sure (?:to |you )?)?"
    r"(?:remember|do not forget|never forget|note|make a note|keep in mind)\b"
    r"(?:\s+(?:that|this))?[,:]?\s+", re.IGNORECASE)
_ASKED_TO_REMEMBER = re.compile(
    r"^(?:please\s+)?(?:can|could|would|will) you (?:please )?(?:remember|note|keep in mind)\b",
    re.IGNORECASE)
_MARKER = re.compile(
    r"^(?:actually|no|nope|oh|well|ok|okay|so|and|but|also|btw|by the way|hey|hi|hello|"
    r"yes|yeah|yep|sorry|wait|fyi|for the record|to be clear|just so you know|correction|"
    r"update|i mean|now|anyway|fun fact|just|honestly|in fact|these days|nowadays)\b"
    r"[\s,:!\-\u2013\u2014]*", re.IGNORECASE)
_CORRECTION = frozenset({"actually", "no", "nope", "correction", "update", "sorry", "wait",
                         "i mean", "in fact"})
_HYPOTHETICAL = re.compile(
    r"\b(?:if|unless|whether|imagine|pretend|hypothetically|what if|let us say|suppose|"
    r"in (?:a|my|this) story|role-?play|my character|wish|would be|wanted to be)\b",
    re.IGNORECASE)
_STRONG_HEDGE = re.compile(
    r"\b(?:maybe|perhaps|might|may be|possibly|not sure|unsure|i do not think|i doubt|"
    r"could be|sort of|kind of|kinda|i wonder|or something|not certain)\b", re.IGNORECASE)
_WEAK_HEDGE = re.compile(
    r"^(?:i think|i believe|i guess|i reckon|i am pretty sure|i am fairly sure|pretty sure|"
    r"probably)(?: that)?[,\s]+", re.IGNORECASE)
# "Hi, I'm Sam": a name only right after a greeting ("I'm Tired" is not one).
_HELLO = r"(?:hi|hello|hey)(?: there| everyone| all)?"
_GREETING = re.compile(
    rf"^(?P<hello>{_HELLO}[\s,!.]+)?i am (?P<value>[a-z][\w-]*(?: [a-z][\w-]*)?)$", re.IGNORECASE)
_GREETING_ONLY = re.compile(rf"^{_HELLO}[\s,!.]*$", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(
    r",?\s+(?:and|but|so|because|although|though|while|whereas|plus)\s+"
    r"(?=(?:i|my|we|he|she|they|his|her|their|it)\b)|,\s+(?=(?:i|my|we)\b)",
    re.IGNORECASE)


def _sentence_facts(sentence: str, greeted: bool) -> Iterator[tuple[str, str, str, float]]:
    """The facts of one sentence; ``greeted``: the one before was just "Hello!"."""
    if len(sentence) > MAX_SENTENCE_CHARS:
        return
    aside = _ASIDE_QUESTION.search(sentence)
    if aside:
        sentence = sentence[:aside.start()]
    elif _QUESTION_END.search(sentence) and not _ASKED_TO_REMEMBER.match(sentence):
        return
    text = sentence
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    greeting = _GREETING.match(text.rstrip(" .!"))
    if greeting and (greeted or greeting["hello"]) and _looks_like_name(greeting["value"]):
        yield USER, "name", greeting["value"], 0.7
        return
    text, remembered, correcting = _strip_openers(text.strip())
    if _QUESTION_START.match(text):
        return
    for clause in _CLAUSE_BREAK.split(text):
        clause, again, corrected = _strip_openers(clause.strip())
        # "Imagine I live in Paris and my name is Bob": nothing from here on is meant.
        head = _TAIL.sub("", clause)
        if _HYPOTHETICAL.search(head) or _STRONG_HEDGE.search(head):
            return
        hedged = _WEAK_HEDGE.match(clause)
        if hedged:
            clause = clause[hedged.end():]
        clause = clause.rstrip(" .!?,;:\"')]")
        bonus = 0.1 * (remembered or again) + 0.05 * (correcting or corrected)
        for subject, key, value, confidence in _clause_facts(clause, remembered or again):
            yield subject, key, value, (confidence + bonus) * (0.7 if hedged else 1.0)


def _strip_openers(text: str) -> tuple[str, bool, bool]:
    """Remove "oh, and", "actually", "remember that" from the front; say which were there."""
    remembered = corrected = False
    while True:
        request = _REQUEST.match(text)
        marker = _MARKER.match(text) if not request else None
        if request:
            remembered = True
            text = text[request.end():]
        elif marker and marker.end() > 0 and text[marker.end():]:
            corrected = corrected or marker[0].strip(" ,:!-").lower() in _CORRECTION
            text = text[marker.end():]
        else:
            return text, remembered, corrected


# --- values ------------------------------------------------------------------------------

_TAIL = re.compile(
    r"(?:,\s*(?:not|but|and|so|which|because|though|since|or|lol|haha|right|you know|"
    r"thanks|thank you|please|just|if)\b|\s+(?:because|since|which|so that|but|though|"
    r"although|as well as|btw|by the way|lol|haha)\b|\s+[:;]-?[()dp]).*$",
    re.IGNORECASE)
_PLACE_TAIL = re.compile(
    r"\s+(?:with|for|since|as|near|because|and|but|where|when|to be|so)\b.*$", re.IGNORECASE)
_TIME_TAIL = re.compile(
    r"\s+(?:(?:last|this|next) (?:week|month|year|summer|winter|spring|autumn|fall|weekend)|"
    r"(?:a|one|two|three|four|five|six|\d+|a few|several|many) (?:days?|weeks?|months?|years?)"
    r" ago|(?:in|since) (?:19|20)\d\d|recently|now|today|yesterday|already|again|too|as well|"
    r"these days|nowadays|at the moment|right now|for now|currently|anymore|though)$",
    re.IGNORECASE)
_LEADING = re.compile(
    r"^(?:actually|really|definitely|officially|still|now|currently|also|just)\s+",
    re.IGNORECASE)
_PROBABLY = re.compile(r"^(?:probably|likely|most likely)\s+", re.IGNORECASE)
_NEGATED = re.compile(r"^(?:not|never|no longer|no|nobody|none)\b", re.IGNORECASE)
# Case matters: "the US" is a place, "us" is not.
_OTHER_PERSON = re.compile(r"\b(?:[iI]|[yY]ou|[yY]ours?|[wW]e|[oO]urs?|us)\b")
_ARTICLE = re.compile(r"^(?:a|an)\s", re.IGNORECASE)


def _value(raw: str, *, place: bool = False, max_words: int = 8) -> tuple[str, float] | None:
    """The cleaned value and a confidence factor, or None when it states no fact."""
    value = _TAIL.sub("", raw.strip())
    if place:
        value = _PLACE_TAIL.sub("", value)
    previous = None
    while previous != value:
        previous = value
        value = _TIME_TAIL.sub("", value).strip(" .,!;:\"'*~()[]")
        value = _LEADING.sub("", value)
    factor = 1.0
    probably = _PROBABLY.match(value)
    if probably:
        value, factor = value[probably.end():], 0.7
    words = value.split()
    if (not words or len(words) > max_words or "?" in value or _NEGATED.match(value)
            or value.lower() in EMPTY_VALUES or _OTHER_PERSON.search(value)):
        return None
    if len(words) > 5:
        factor *= 0.8
    return value, factor


def _looks_like_name(value: str) -> bool:
    words = value.split()
    return (0 < len(words) <= 3 and all(w[:1].isupper() and w.replace("-", "").isalpha()
                                        for w in words))


# --- the clause patterns -------------------------------------------------------------------

Found = list[tuple[str, str, str, float]]
_SUBJECT = r"(?P<subject>i|we|my [a-z'-]+ and i|my (?:(?!and |or )[a-z'-]+ ){0,2}?[a-z'-]+)"


def _subject(match: re.Match[str]) -> str | None:
    said = match["subject"].lower()
    if said in ("i", "we") or said.endswith(" and i"):
        return USER
    owner = normalise_key(said.removeprefix("my "))
    if owner.split()[-1] in NOT_KEYS:
        return None
    return f"user's {owner}"


def _simple(key: str, confidence: float, place: bool = False) -> Callable[[re.Match[str]], Found]:
    def found(match: re.Match[str]) -> Found:
        subject, cleaned = _subject(match), _value(match["value"], place=place)
        if subject is None or cleaned is None or (place and _ARTICLE.match(cleaned[0])):
            return []
        return [(subject, key, cleaned[0], confidence * cleaned[1])]
    return found


def _born(match: re.Match[str]) -> Found:
    subject, cleaned = _subject(match), _value(match["value"], place=True)
    if subject is None or cleaned is None:
        return []
    value = cleaned[0]
    if re.fullmatch(r"(?:19|20)\d\d", value):
        key = "birth year"
    elif MONTHS.search(value) or re.search(r"\d", value):
        key = "birthday"
    else:
        key = "birthplace"
    return [(subject, key, value, 0.85 * cleaned[1])]


def _work(match: re.Match[str]) -> Found:
    subject = _subject(match)
    employer = _value(match["value"], place=True)
    if subject is None or employer is None or _ARTICLE.match(employer[0]):
        return []
    found = [(subject, "employer", employer[0], 0.8 * employer[1])]
    job = match["job"] and _value(match["job"])
    if job:
        found.append((subject, "job", _ARTICLE.sub("", job[0]), 0.8 * job[1]))
    return found


def _work_as(match: re.Match[str]) -> Found:
    subject, job = _subject(match), _value(match["value"], max_words=5)
    if subject is None or job is None:
        return []
    found = [(subject, "job", job[0], 0.8 * job[1])]
    employer = match["employer"] and _value(match["employer"], place=True)
    if employer and not _ARTICLE.match(employer[0]):
        found.append((subject, "employer", employer[0], 0.8 * employer[1]))
    return found


def _is_a(match: re.Match[str]) -> Found:
    """"I'm a nurse (at St Mary's)": a job when the noun looks like one, else nothing."""
    subject = _subject(match)
    head, preposition, rest = _split_head(match["value"])
    if subject is None or not head or subject.split()[-1] in PETS:
        return []
    cleaned = _value(head, max_words=4)
    if cleaned is None:
        return []
    if cleaned[0].lower() in DIETS:
        return [(subject, "diet", cleaned[0].lower(), 0.8 * cleaned[1])]
    if not is_job(cleaned[0]):
        return []
    found = [(subject, "job", cleaned[0], 0.7 * cleaned[1])]
    employer = _value(rest, place=True) if preposition in ("at", "for") else None
    if employer and employer[0][:1].isupper():
        found.append((subject, "employer", employer[0], 0.7 * employer[1]))
    return found


def _split_head(value: str) -> tuple[str, str, str]:
    """"nurse at St Mary's" -> ("nurse", "at", "St Mary's")."""
    parts = re.split(r"\s+(at|for|in|with|from|on|of|who|that)\s+", value, maxsplit=1)
    if len(parts) == 3:
        return parts[0], parts[1].lower(), parts[2]
    return value, "", ""


def _diet(match: re.Match[str]) -> Found:
    subject = _subject(match)
    return [] if subject is None else [(subject, "diet", match["value"].lower(), 0.8)]


def _age(match: re.Match[str]) -> Found:
    subject = _subject(match)
    if subject is None:
        return []
    bare = not match["years"]
    if bare and subject != USER and subject.split()[-1] not in RELATIONS:
        return []
    return [(subject, "age", match["value"], 0.85 if not bare else 0.75)]


def _named(match: re.Match[str]) -> Found:
    """"I have a dog named Rex": the dog's name."""
    owner = normalise_key(match["owner"])
    cleaned = _value(match["value"], max_words=3)
    if cleaned is None or cleaned[0].lower() in NOT_NAMES:
        return []
    return [(f"user's {owner}", "name", cleaned[0], 0.85 * cleaned[1])]


def _call_me(key: str, confidence: float) -> Callable[[re.Match[str]], Found]:
    def found(match: re.Match[str]) -> Found:
        cleaned = _value(match["value"], max_words=3)
        if cleaned is None or cleaned[0].split()[0].lower() in NOT_NAMES:
            return []
        return [(USER, key, cleaned[0], confidence * cleaned[1])]
    return found


_FEELINGS = {
    "like": "likes", "likes": "likes", "love": "loves", "loves": "loves", "adore": "loves",
    "adores": "loves", "enjoy": "enjoys", "enjoys": "enjoys", "hate": "hates",
    "hates": "hates", "detest": "hates", "detests": "hates", "despise": "hates",
    "despises": "hates", "cannot stand": "hates", "dislike": "dislikes",
    "dislikes": "dislikes", "do not like": "dislikes", "does not like": "dislikes",
    "do not really like": "dislikes", "does not really like": "dislikes",
}
_NOT_THINGS = re.compile(
    r"^(?:it|that|this|these|those|them|him|her|when|how|what|the way|being|to (?:think|"
    r"say|know|believe|hear|see))\b", re.IGNORECASE)


def _feeling(match: re.Match[str]) -> Found:
    subject = _subject(match)
    if subject is None:
        return []
    verb = _FEELINGS[" ".join(match["verb"].lower().split())]
    found = []
    for thing in re.split(r",\s*(?:and\s+)?|\s+and\s+|\s+or\s+", match["value"]):
        cleaned = _value(thing, max_words=5)
        if cleaned is None or _NOT_THINGS.match(cleaned[0]):
            continue
        key = FEELING_PREFIX + _gerund(cleaned[0])
        found.append((subject, key, verb, 0.7 * cleaned[1]))
    return found


def _gerund(thing: str) -> str:
    """"to cook" -> "cooking", "to swim" -> "swimming"; anything else as it is."""
    if not thing.lower().startswith("to "):
        return thing
    verb, *rest = thing[3:].split(" ", 1)
    if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")):
        verb = verb[:-1]
    elif re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", verb) and len(verb) <= 4:
        verb += verb[-1]
    return " ".join([verb + "ing", *rest])


def _my_x_is(match: re.Match[str]) -> Found:
    """"my favorite color is teal", "my dog's name is Rex", "my sister is Ana"."""
    key = normalise_key(match["key"])
    subject = USER
    if "'s " in key:
        owner, key = key.rsplit("'s ", 1)
        subject = f"user's {owner}"
    if not key or key.split()[-1] in NOT_KEYS or len(key.split()) > 5:
        return []
    raw = match["value"]
    if re.match(r"[a-z]\w*ing\b", raw) and not (
            key.startswith("favorite ") or key.split()[-1] in _ACTIVITY_KEYS):
        return []  # "my back is killing me", "my sister is coming over": not lasting
    relation = key.split()[-1] in RELATIONS and subject == USER
    called = re.match(r"(?:called|named)\s+(.+)", raw, re.IGNORECASE)
    cleaned = _value(called[1] if called else raw, max_words=3 if called else 8)
    if cleaned is None:
        return []
    value, factor = cleaned
    if called or (relation and _looks_like_name(value)):
        if value.lower() in NOT_NAMES:
            return []
        owner = subject.removeprefix("user's ") + "'s " if subject != USER else ""
        return [(f"user's {owner}{key}", "name", value, 0.85 * factor)]
    if key == "name" and (_ARTICLE.match(value) or value.lower() in NOT_NAMES):
        return []
    confidence = 0.85 if key in _WELL_KNOWN or key.startswith("favorite ") else 0.75
    return [(subject, key, value, confidence * factor)]


_ACTIVITY_KEYS = frozenset({"hobby", "hobbies", "passion", "sport", "job", "work", "pastime"})
_WELL_KNOWN = frozenset({"name", "last name", "birthday", "email", "email address",
                         "phone number", "address", "nickname", "middle name"})


def _note(match: re.Match[str]) -> Found:
    """What the user asked to remember about something: "the dentist is on Friday"."""
    thing = match["thing"]
    if re.match(r"(?:it|this|that|there|here|he|she|they|what|who|which|everything|"
                r"something|nothing|i|you|we|our|my)\b", thing, re.IGNORECASE):
        return []
    cleaned = _value(match["value"])
    if cleaned is None:
        return []
    if re.match(r"(?:the|a|an)\s", thing, re.IGNORECASE):
        thing = thing[:1].lower() + thing[1:]
    return [(thing, NOTE_KEY, cleaned[0], 0.8 * cleaned[1])]


def _pattern(body: str) -> re.Pattern[str]:
    return re.compile(f"^{body}$", re.IGNORECASE)


_ADVERBS = r"(?:(?:now|currently|still|also|actually|both|just|recently|finally|all) )*"
_CLAUSES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Found]], ...] = (
    (_pattern(r"(?:i|we) (?:have|got|adopted|own) (?:a|an|one) (?P<owner>(?:[a-z-]+ ){0,2}"
              r"[a-z-]+) (?:called|named) (?P<value>.+)"), _named),
    (_pattern(r"(?:(?:you can|you may|please|just|pls|feel free to) )*call me (?P<value>.+)"),
     _call_me("preferred name", 0.75)),
    (_pattern(r"(?:everyone|everybody|people|my friends|friends) calls? me (?P<value>.+)"),
     _call_me("preferred name", 0.65)),
    (_pattern(r"i (?:go by|am called|am named) (?P<value>.+)"), _call_me("name", 0.8)),
    (_pattern(_SUBJECT + r" (?:am|is|are|just turned|turned|have just turned|has just turned)"
              r" (?P<value>\d{1,3})(?P<years> years? old| yrs? old| y/?o)?(?: now| today)?"), _age),
    (_pattern(_SUBJECT + r" (?:was|were) born (?:in|on) (?P<value>.+)"), _born),
    (_pattern(_SUBJECT + " " + _ADVERBS + r"(?:live|lives|(?:am|is|are|have been|has been) living|"
              r"reside|resides) in (?P<value>.+)"), _simple("home city", 0.8, place=True)),
    (_pattern(_SUBJECT + " " + _ADVERBS + r"(?:(?:have|has) )?" + _ADVERBS +
              r"(?:moved|relocated) to (?P<value>.+)"), _simple("home city", 0.8, place=True)),
    (_pattern(_SUBJECT + r" (?:am|is|are) " + _ADVERBS + r"based in (?P<value>.+)"),
     _simple("home city", 0.75, place=True)),
    (_pattern(_SUBJECT + r" (?:(?:am|is|are) (?:originally )?from|(?:originally )?comes? from|"
              r"grew up in) (?P<value>.+)"), _simple("hometown", 0.8, place=True)),
    (_pattern(_SUBJECT + " " + _ADVERBS + r"(?:work|works|am working|is working|are working)"
              r" as (?:a |an )?(?P<value>.+?)(?: (?:at|for) (?P<employer>.+))?"), _work_as),
    (_pattern(_SUBJECT + " " + _ADVERBS + r"(?:work|works|am working|is working|are working)"
              r" (?:at|for) (?P<value>.+?)(?: as (?P<job>.+))?"), _work),
    (_pattern(_SUBJECT + r" (?:am|is|are) (?:a |an )?(?:strict |full |complete )?"
              r"(?P<value>" + "|".join(re.escape(d) for d in sorted(DIETS)) + ")"), _diet),
    (_pattern(_SUBJECT + r" (?:am|is|are) (?:a|an) (?P<value>.+)"), _is_a),
    (_pattern(_SUBJECT + r" (?:(?:really|absolutely|totally|truly|just|also|so|do) )*"
              r"(?P<verb>" + "|".join(sorted(_FEELINGS, key=len, reverse=True)) + r")"
              r" (?P<value>.+)"), _feeling),
    (_pattern(r"my (?P<key>[a-z][\w'-]*(?: [\w'-]+){0,5}?) (?:is|are) (?P<value>.+)"),
     _my_x_is),
    (_pattern(r"my (?P<key>[a-z][\w-]*(?: [\w-]+){0,4}?)'s (?P<value>(?!.*\b(?:is|are)\b).+)"),
     _my_x_is),
)
_NOTE = _pattern(r"(?P<thing>[\w'-]+(?: [\w'-]+){0,5}?) (?:is|are) (?P<value>.+)")


def _clause_facts(clause: str, remembered: bool) -> Found:
    """The facts of the first pattern that fits the clause (a note only if asked to)."""
    for pattern, found in _CLAUSES:
        match = pattern.match(clause)
        if match:
            facts = found(match)
            if facts:
                return facts
    if remembered:
        match = _NOTE.match(clause)
        if match:
            return _note(match)
    return []
