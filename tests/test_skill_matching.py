"""Matching requests to kept skills with the real bundled embedding model: the same request
is replayed, a similar-but-different one never is (it may be a worked example), and a
skill below the confidence floor is not used at all."""

from __future__ import annotations

import numpy as np
import pytest

from nexus_desktop.config import Settings
from nexus_desktop.embed.model import BUNDLED_NAME
from nexus_desktop.embed.shared import shared_embedding_model
from nexus_desktop.learning.examples import ExampleStore
from nexus_desktop.memory.skill_requests import matching_text, request_key
from nexus_desktop.memory.skills import SkillLibrary
from nexus_desktop.store.database import Database

# (kept request, a different request that must not replay it)
SIMILAR_BUT_DIFFERENT = [
    ("Convert 5 miles to km", "Convert 5 km to miles"),
    ("Convert 5 miles to km", "Convert 6 miles to km"),
    ("Convert 100 Fahrenheit to Celsius", "Convert 100 Celsius to Fahrenheit"),
    ("Convert 2 cups to ml", "Convert 2 tablespoons to ml"),
    ("Translate 'good morning' into French", "Translate 'good morning' into Spanish"),
    ("Translate 'good morning' into French", "Translate 'good evening' into French"),
    ("Translate 'thank you' from German to English",
     "Translate 'thank you' from English to German"),
    ("Rewrite this formally: see you soon", "Rewrite this casually: see you soon"),
    ("Rewrite this formally: see you soon", "Rewrite this formally: see you tomorrow"),
    ("Summarise: The meeting moved to Friday.", "Summarise: The meeting moved to Monday."),
    ("Draft an email to my landlord about the heater",
     "Draft an email to my boss about the heater"),
    ("Draft a short thank-you note to Anna", "Draft a long thank-you note to Anna"),
    ("Explain why the sky is blue", "Explain why the sky is not blue"),
    ("Explain recursion to a child", "Explain recursion to an engineer"),
    ("List three fruits high in vitamin C", "List five fruits high in vitamin C"),
    ("Write a haiku about rain", "Write a haiku about snow"),
    ("Calculate 15% of 80", "Calculate 18% of 80"),
    ("Sort these numbers: 3, 1, 2", "Sort these numbers descending: 3, 1, 2"),
    ("Spell 'necessary' backwards", "Spell 'necessary'"),
    ("Convert 9am London time to New York time", "Convert 9am New York time to London time"),
    ("Convert -10 °C to Fahrenheit", "Convert 10 °C to Fahrenheit"),
    ("Convert 20 € to $", "Convert 20 $ to €"),
    ("Count the capital letters in: Hello World", "Count the capital letters in: hello world"),
    ("Explain how to quickly cool a cake", "Explain how to cool a cake"),
    ("Calculate 12 + 7", "Calculate 12 - 7"),
    ("Convert 1,5 kg to pounds", "Convert 15 kg to pounds"),
]
NEAR_EXACT_REPEATS = [
    ("Convert 5 miles to km", "please convert 5 miles to km."),
    ("Translate 'good morning' into French", "Could you translate 'good morning' into French?"),
    ("Summarize: The meeting moved to Friday.", "summarise: The meeting moved to Friday"),
    ("Calculate 12 + 7", "Could you calculate 12 + 7?"),
    ("Calculate 7 \u00d7 8", "Calculate  7 \u00d7 8!"),
    ("Write a haiku about rain", "Hey, can you write a haiku about rain!"),
    ("Explain recursion to a child", "explain recursion to a child, thanks"),
]


def embed(text: str) -> np.ndarray:
    return shared_embedding_model().encode([text])[0]


@pytest.fixture
def library(db: Database, settings: Settings) -> SkillLibrary:
    return SkillLibrary(db, settings, embed, BUNDLED_NAME, ExampleStore(db))


def keep(library: SkillLibrary, request: str, confidence: float = 0.8) -> int:
    return library.store.add(
        name=request, intent=request, request_key=request_key(request),
        embedding=embed(matching_text(request)), embedding_model=BUNDLED_NAME, steps={},
        result=f"the reply to {request}", confidence=confidence, source_reply_id=None).id


@pytest.mark.parametrize(("kept", "asked"), SIMILAR_BUT_DIFFERENT)
def test_a_similar_but_different_request_is_never_replayed(
        library: SkillLibrary, kept: str, asked: str):
    keep(library, kept)
    found = library.match(asked)
    assert found is None or found.kind == "example"


def test_the_similar_pairs_are_close_in_meaning(library: SkillLibrary):
    """Why the words must match too: by meaning alone most pairs would be replayed."""
    close = [kept for kept, asked in SIMILAR_BUT_DIFFERENT
             if float(embed(kept) @ embed(asked)) >= 0.9]
    assert len(close) >= len(SIMILAR_BUT_DIFFERENT) // 2


@pytest.mark.parametrize(("kept", "asked"), NEAR_EXACT_REPEATS)
def test_a_near_exact_repeat_is_replayed(library: SkillLibrary, kept: str, asked: str):
    skill_id = keep(library, kept)
    found = library.match(asked)
    assert found is not None and found.kind == "replay" and found.skill.id == skill_id
    assert found.similarity >= 0.9


def test_a_similar_request_is_matched_as_an_example(library: SkillLibrary):
    skill_id = keep(library, "Convert 5 miles to km")
    found = library.match("Convert 12 miles to km")
    assert found is not None and found.kind == "example" and found.skill.id == skill_id


def test_the_most_similar_skill_is_the_example(library: SkillLibrary):
    keep(library, "Translate 'good morning' into French")
    miles = keep(library, "Convert 5 miles to km")
    found = library.match("Convert 40 miles to km")
    assert found is not None and found.skill.id == miles


def test_a_skill_below_the_floor_is_not_used(library: SkillLibrary):
    keep(library, "Convert 5 miles to km", confidence=0.3)
    assert library.match("Convert 5 miles to km") is None
    assert library.match("Convert 12 miles to km") is None


def test_the_thresholds_come_from_the_settings(library: SkillLibrary, settings: Settings):
    keep(library, "Convert 5 miles to km")
    settings.set("skills.example_similarity", 1.0)
    assert library.match("Convert 12 miles to km") is None
    settings.set("skills.min_confidence", 0.9)
    assert library.match("Convert 5 miles to km") is None


def test_conversation_is_never_matched(library: SkillLibrary):
    keep(library, "Convert 5 miles to km")
    assert library.match("I ran 5 miles today, that's about 8 km") is None
