"""How a fact reads: the sentence the model is given, and the questions and answers the
learner trains on, all made from its subject, key and value.

Everything is derived from (subject, key, value) alone, so an edited value rewrites the
sentence and the examples the same way an extracted one wrote them. Subjects are
``user``, ``user's <someone>`` (``user's sister``, ``user's dog``) or, for things the user
asked to remember, the thing itself (``the dentist``) with the key ``note``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

USER = "user"
NOTE_KEY = "note"
FEELING_PREFIX = "feeling about "
POSITIVE_FEELINGS = frozenset({"likes", "loves", "enjoys", "adores"})

# One spelling per key, so "favourite colour" and "fave color" are the same fact.
_WORD_SPELLINGS = {
    "favourite": "favorite", "fave": "favorite", "fav": "favorite", "colour": "color",
    "colours": "colors", "neighbour": "neighbor", "neighbours": "neighbors",
    "programme": "program", "theatre": "theater", "mum": "mom", "mummy": "mom",
    "bday": "birthday", "b-day": "birthday", "e-mail": "email", "organisation": "organization",
}
_PHRASE_SPELLINGS = {
    "date of birth": "birthday", "birth date": "birthday", "birth day": "birthday",
    "home town": "hometown", "surname": "last name", "family name": "last name",
    "given name": "name", "first name": "name",
}


def normalise_key(words: str) -> str:
    """Lower case, single spaces, one spelling: "Favourite  Colour" -> "favorite color"."""
    key = " ".join(_spelled(w) for w in words.lower().split())
    return _PHRASE_SPELLINGS.get(key, key)


def _spelled(word: str) -> str:
    stem, possessive, _ = word.partition("'s")
    return _WORD_SPELLINGS.get(stem, stem) + possessive if stem else word


_SINGULAR_ENDINGS = ("ss", "us", "is", "'s")
_NOT_PLURAL = frozenset({"news", "series", "species", "physics", "maths", "mathematics"})
# First-person words in a value, as a third person and as "you" would say them.
_SWAPS = {"my": ("their", "your"), "me": ("them", "you"), "mine": ("theirs", "yours"),
          "myself": ("themselves", "yourself")}
_SWAP_WORD = re.compile(r"\b(my|me|mine|myself)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Who:
    """One subject in the three forms a fact is spoken in."""

    third: str   # "the user", "the user's sister", "the dentist"
    second: str  # "you", "your sister"
    first: str   # "I", "my sister"
    is_user: bool
    plural: bool  # "my parents live", "your parents are"

    def possessive(self, form: str) -> str:
        if self.is_user:
            return {"third": "the user's", "second": "your", "first": "my"}[form]
        name = getattr(self, form)
        return name + ("'" if name.endswith("s") else "'s")

    def verb(self, form: str, base: str) -> str:
        """``base`` conjugated for this subject ("live" -> "lives", but "you live")."""
        if (form != "third" and self.is_user) or self.plural:
            return base
        return _third_person(base)

    def be(self, form: str) -> str:
        if self.is_user:
            return {"third": "is", "second": "are", "first": "am"}[form]
        return "are" if self.plural else "is"

    def do(self) -> str:
        return "do" if self.is_user or self.plural else "does"


def _who(subject: str) -> _Who:
    if subject == USER:
        return _Who("the user", "you", "I", True, False)
    if subject.startswith("user's "):
        rest = subject.removeprefix("user's ")
        return _Who(f"the user's {rest}", f"your {rest}", f"my {rest}", False, is_plural(rest))
    return _Who(subject, subject, subject, False, is_plural(subject))


def _base_form(verb: str) -> str:
    """"loves" -> "love", "watches" -> "watch", "tries" -> "try"."""
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    if verb.endswith(("shes", "ches", "xes", "sses", "oes")):
        return verb[:-2]
    return verb.removesuffix("s")


def _third_person(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def is_plural(noun: str) -> bool:
    """A rough guess whether a key or a note's subject takes "are" ("keys", "favorite colors")."""
    last = noun.split()[-1].lower() if noun.split() else ""
    return (last.endswith("s") and not last.endswith(_SINGULAR_ENDINGS)
            and last not in _NOT_PLURAL)


def swap_person(value: str, form: str) -> str:
    """Rewrite "my"/"me" in a value for the speaker: "their garden" or "your garden"."""
    index = 0 if form == "third" else 1
    return _SWAP_WORD.sub(lambda m: _SWAPS[m[1].lower()][index], value)


def with_article(noun: str) -> str:
    if re.match(r"(?:a|an|the)\s", noun, re.IGNORECASE):
        return noun
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    text = _capital(text.strip())
    return text if text.endswith((".", "!", "?")) else text + "."


# Each template maps (who, value, form) to the clause "<subject> <predicate>", and lists the
# questions (in the user's words) it answers.
Clause = Callable[[_Who, str, str], str]


def _lives(who: _Who, value: str, form: str) -> str:
    return f"{getattr(who, form)} {who.verb(form, 'live')} in {value}"


def _from(who: _Who, value: str, form: str) -> str:
    return f"{getattr(who, form)} {who.be(form)} from {value}"


def _born_in(who: _Who, value: str, form: str) -> str:
    was = "were" if (form == "second" and who.is_user) or who.plural else "was"
    return f"{getattr(who, form)} {was} born in {value}"


def _works_at(who: _Who, value: str, form: str) -> str:
    return f"{getattr(who, form)} {who.verb(form, 'work')} at {value}"


def _works_as(who: _Who, value: str, form: str) -> str:
    return f"{getattr(who, form)} {who.verb(form, 'work')} as {with_article(value)}"


def _is(who: _Who, value: str, form: str) -> str:
    return f"{getattr(who, form)} {who.be(form)} {value}"


def _age(who: _Who, value: str, form: str) -> str:
    years = f"{value} years old" if value.isdigit() else value
    return _is(who, years, form)


def _called(who: _Who, value: str, form: str) -> str:
    return f"{getattr(who, form)} {who.verb(form, 'want')} to be called {value}"


_TEMPLATES: dict[str, tuple[Clause, tuple[str, ...]]] = {
    "home city": (_lives, ("Where {do} {I} live?", "Which city {do} {I} live in?")),
    "hometown": (_from, ("Where {am} {I} from?", "What is {my} hometown?")),
    "birthplace": (_born_in, ("Where {was} {I} born?",)),
    "birth year": (_born_in, ("When {was} {I} born?", "What year {was} {I} born?")),
    "employer": (_works_at, ("Where {do} {I} work?", "Who {do} {I} work for?")),
    "job": (_works_as, ("What {do} {I} do for a living?", "What is {my} job?")),
    "diet": (_is, ("What is {my} diet?", "What kind of diet {do} {I} follow?")),
    "age": (_age, ("How old {am} {I}?",)),
    "preferred name": (_called, ("What should you call {me}?", "What {do} {I} like to be called?")),
}


def _question(template: str, who: _Who) -> str:
    me = "me" if who.is_user else who.first
    return _capital(template.format(
        I=who.first, my=who.possessive("first"), me=me,
        do=who.do(), am=who.be("first"), was="were" if who.plural else "was",
    ))


def _agreeing(word: str, answer: str) -> str:
    """"Yes, your favorite color is teal.": the answer's first word lowered unless a name."""
    first = answer.split(" ", 1)[0]
    return word + (answer[:1].lower() + answer[1:] if first in ("The", "Your", "You") else answer)


def fact_sentence(subject: str, key: str, value: str) -> str:
    """The fact as one sentence about the user: "The user's favorite color is teal."."""
    return _sentence(_clause(_who(subject), key, value, "third"))


def fact_in_person(subject: str, key: str, value: str, form: str) -> str:
    """The fact as the user says it (``form`` "first": "My favorite color is teal.") or as
    the assistant says it back ("second": "Your favorite color is teal.")."""
    return _sentence(_clause(_who(subject), key, value, form))


def _clause(who: _Who, key: str, value: str, form: str) -> str:
    value = swap_person(value, form)
    if key in _TEMPLATES:
        return _TEMPLATES[key][0](who, value, form)
    if key.startswith(FEELING_PREFIX):
        thing = swap_person(key.removeprefix(FEELING_PREFIX), form)
        words = value.split(" ", 1)
        verb = words[0]
        if (form == "second" and who.is_user) or who.plural:
            verb = _base_form(verb)
        return " ".join([getattr(who, form), verb, *words[1:], thing])
    if key == NOTE_KEY:
        return f"{getattr(who, form)} {who.be('third')} {value}"
    be = "are" if is_plural(key) else "is"
    return f"{who.possessive(form)} {key} {be} {value}"


def fact_questions(subject: str, key: str, value: str) -> list[tuple[str, str]]:
    """Questions the user might ask about this fact, each with the answer in "you" form."""
    who = _who(subject)
    answer = _sentence(_clause(who, key, value, "second"))
    yes = _agreeing("Yes, ", answer)
    if key in _TEMPLATES:
        asked = [_question(q, who) for q in _TEMPLATES[key][1]]
        return [(q, answer) for q in asked]
    if key.startswith(FEELING_PREFIX):
        thing = key.removeprefix(FEELING_PREFIX)
        do = who.do()
        positive = value.split(" ", 1)[0] in POSITIVE_FEELINGS
        reply = _agreeing("Yes, " if positive else "No, ", answer)
        return [
            (_capital(f"how {do} {who.first} feel about {thing}?"), answer),
            (_capital(f"{do} {who.first} like {thing}?"), reply),
        ]
    if key == NOTE_KEY:
        return [
            (f"What do you remember about {who.first}?", answer),
            (f"What did I tell you about {who.first}?", answer),
            (f"Do you remember anything about {who.first}?", yes),
        ]
    be = "are" if is_plural(key) else "is"
    mine = who.possessive("first")
    return [
        (f"What {be} {mine} {key}?", answer),
        (f"Do you remember {mine} {key}?", yes),
        (_capital(f"tell me {mine} {key}."), answer),
    ]
