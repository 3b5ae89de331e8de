"""Reading a user's message for the skill library: is it a task, what is it asking for
exactly, does it correct the reply before it, does it lean on the conversation?

All in words and patterns, no model: these run on every turn before anything else, and a
request that is replayed must be the same request, which the embedding alone cannot tell
("convert 5 miles to km" and "convert 5 km to miles" are almost the same vector).
"""

from __future__ import annotations

import re
import unicodedata

# Verbs that open a request for work with a result that can be reused.
TASK_VERBS = frozenset({
    "rewrite", "rephrase", "reword", "paraphrase", "summarise", "summarize", "sum", "condense",
    "shorten", "expand", "convert", "translate", "draft", "write", "compose", "explain",
    "define", "describe", "outline", "list", "give", "make", "create", "generate", "fix",
    "correct", "proofread", "edit", "format", "reformat", "calculate", "compute", "count",
    "simplify", "turn", "change", "sort", "rank", "name", "suggest", "recommend", "compare",
    "classify", "extract", "spell",
})
# Asked politely, a request opens with these before its verb.
_POLITE_OPENERS = re.compile(
    r"^(?:(?:hey|hi|hello|ok|okay|so|now|please|pls|kindly|quick(?:ly)?|"
    r"(?:can|could|would|will) you(?: please)?|i (?:need|want) you to|"
    r"i(?:'d| would) like you to|help me)[\s,!.:]+)+")
_POLITE_OPENERS_ANY_CASE = re.compile(_POLITE_OPENERS.pattern, re.IGNORECASE)
_HOW_TO = re.compile(r"^(?:how (?:do|can|should) i|how to)\b")
# Words that change nothing in a request; left out of its key, so that "Please convert
# 5 km to miles." and "convert 5 km to miles" are the same request.
FILLER_WORDS = frozenset({"please", "pls", "kindly", "the", "a", "an"})
# Thanks at the end of a request, which is politeness; inside it ("a thanks card") it is not.
_THANKS_AT_END = re.compile(r"[\s,.!]*\b(?:thanks|thank you|thx)[\s.!]*$", re.IGNORECASE)
# A correction of the reply before: how users say it was not what they wanted.
_CORRECTION = re.compile(
    r"^(?:no\b|nope\b|wrong\b|incorrect\b|not (?:quite|right|what|correct)\b|"
    r"that(?:'s| is| was)(?: not| wrong| incorrect)\b|that isn't\b|that wasn't\b|"
    r"actually\b|try again\b|again\b|redo\b|you (?:misunderstood|got it wrong|made a mistake)\b|"
    r"i (?:meant|said|asked)\b|this is wrong\b|bad answer\b|/correct\b)")
# A request that points back into the conversation rather than carrying its material:
# its reply fits only where it was given, so it is never replayed.
_REFERS_BACK = re.compile(
    r"\b(?:above|previous|earlier|last (?:message|reply|answer|one)|that one|"
    r"what (?:you|i) (?:just )?(?:said|wrote)|your (?:reply|answer))\b")
_DEICTIC_ONLY = re.compile(r"\b(?:this|that|it|these|those|them)\s*[.!?]*$")
# Below this many characters of material after a colon, "summarise this:" names nothing.
_MIN_INLINE_CHARS = 3
_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)?")
# The parts of a key: signed numbers, words, and the symbols that change a request's
# meaning ("12 + 7" and "12 - 7", "-10 °C" and "10 °C", "20 € to $" and "20 $ to €").
_KEY_TOKEN = re.compile(r"-?\d+(?:[.,]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)?|[-+\u00d7*/^%°€$£¥=<>]")
# A comma between digits is a thousands separator only before exactly three digits.
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# Quoted material, whose letter case is part of what is asked.
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
# British and American spellings of the same verbs: one key for both.
_SPELLING = (("summarize", "summarise"), ("summarized", "summarised"),
             ("organize", "organise"), ("analyze", "analyse"), ("color", "colour"),
             ("favorite", "favourite"), ("center", "centre"))


def _normalised(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip()
    for curly, straight in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'),
                            ("\u201d", '"'), ("\u2212", "-")):
        text = text.replace(curly, straight)
    return text


def _plain(text: str) -> str:
    return _normalised(text).casefold()


def task_opening(text: str) -> str:
    """The request with polite openers removed, lower case."""
    return _POLITE_OPENERS.sub("", _plain(text)).lstrip()


def _without_openers(text: str) -> str:
    """The request with polite openers removed, its letter case kept."""
    text = _THANKS_AT_END.sub("", _normalised(text))
    return _POLITE_OPENERS_ANY_CASE.sub("", text).lstrip()


def matching_text(text: str) -> str:
    """What the skill library embeds: the request without polite openers, runs of spaces
    or closing punctuation, which change the vector but not the request."""
    return " ".join(_without_openers(text).split()).rstrip(" .!?")


def _fold_instruction(text: str) -> str:
    """Lower case for the instruction; the material (after a colon, or quoted) keeps its
    case, since "count the capitals in: NASA" and "...: nasa" are different requests."""
    head, colon, material = text.partition(":")
    folded, last = [], 0
    for quoted in _QUOTED.finditer(head):
        folded += [head[last:quoted.start()].casefold(), quoted.group(0)]
        last = quoted.end()
    folded.append(head[last:].casefold())
    return "".join(folded) + colon + material


def is_task_request(text: str) -> bool:
    """Whether the message asks for work with a reusable result (rewrite, summarise,
    convert, translate, draft, explain...) rather than conversation."""
    opening = task_opening(text)
    if _HOW_TO.match(opening):
        return True
    first = _WORD.match(opening)
    return first is not None and first.group(0) in TASK_VERBS


def request_key(text: str) -> str:
    """The request's words, numbers and symbols in order, without politeness, articles,
    punctuation or the instruction's letter case: two requests with the same key ask for
    the same thing."""
    words = []
    for word in _KEY_TOKEN.findall(_fold_instruction(_without_openers(text))):
        for american, british in _SPELLING:
            if word.casefold() == american:
                word = british
        if word.casefold() not in FILLER_WORDS:
            words.append(_THOUSANDS.sub("", word))
    return " ".join(words)


def is_correction(text: str) -> bool:
    """Whether the message says the reply before it was wrong."""
    return bool(_CORRECTION.match(task_opening(text)))


def refers_back(text: str) -> bool:
    """Whether the request needs the conversation to be understood ("summarise the
    above", "translate that"): its reply is not a reusable result."""
    plain = _plain(text)
    if _REFERS_BACK.search(plain):
        return True
    head, colon, material = plain.partition(":")
    if colon and len(material.strip()) >= _MIN_INLINE_CHARS:
        return False
    return bool(_DEICTIC_ONLY.search(head))


def short_name(text: str, words: int = 7) -> str:
    """A name for a skill: the first words of its request."""
    found = " ".join(text.split()[:words])
    return found if len(text.split()) <= words else f"{found}..."
