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
_HOW_TO = re.compile(r"^(?:how (?:do|can|should) i|how to)\b")
# Words that change nothing in a request; left out of its key, so that "Please convert
# 5 km to miles." and "convert 5 km to miles" are the same request.
FILLER_WORDS = frozenset({
    "please", "pls", "kindly", "the", "a", "an", "just", "quickly", "thanks", "thank",
})
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
# British and American spellings of the same verbs: one key for both.
_SPELLING = (("summarize", "summarise"), ("summarized", "summarised"),
             ("organize", "organise"), ("analyze", "analyse"), ("color", "colour"),
             ("favorite", "favourite"), ("center", "centre"))


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().strip()
    return text.replace("\u2019", "'").replace("\u2018", "'")


def task_opening(text: str) -> str:
    """The request with polite openers removed, lower case."""
    return _POLITE_OPENERS.sub("", _plain(text)).lstrip()


def is_task_request(text: str) -> bool:
    """Whether the message asks for work with a reusable result (rewrite, summarise,
    convert, translate, draft, explain...) rather than conversation."""
    opening = task_opening(text)
    if _HOW_TO.match(opening):
        return True
    first = _WORD.match(opening)
    return first is not None and first.group(0) in TASK_VERBS


def request_key(text: str) -> str:
    """The request's words in order, without case, punctuation, politeness or articles:
    two requests with the same key ask for the same thing."""
    words = []
    for word in _WORD.findall(task_opening(text)):
        for american, british in _SPELLING:
            if word == american:
                word = british
        if word not in FILLER_WORDS:
            words.append(word.replace(",", ""))
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
