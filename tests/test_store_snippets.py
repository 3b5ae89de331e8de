"""Search snippets made in one pass over the message text."""

from __future__ import annotations

import apsw
import pytest

from nexus_desktop.errors import StoreError
from nexus_desktop.store.connection import BUSY_TIMEOUT_MS, translate_errors
from nexus_desktop.store.snippets import fold, snippet


def test_hits_are_bracketed_with_words_around_them():
    text = "Yesterday we said the dentist appointment is on Friday at nine in the morning."
    assert snippet(text, "dentist friday") == (
        "Yesterday we said the [dentist] appointment is on [Friday] at nine in ..."
    )
    later = "One two three four five six seven " + text
    assert snippet(later, "dentist").startswith("... Yesterday we said the [dentist]")


def test_accents_and_case_are_ignored_like_the_index_does():
    assert fold("Café") == fold("cafe") == "cafe"
    assert snippet("Un Café crème", "cafe") == "Un [Café] crème"


def test_control_characters_and_newlines_are_shown_as_spaces():
    assert snippet("first\x00line\nsecond target word", "target") == (
        "first line second [target] word"
    )


def test_a_message_without_the_words_shows_its_beginning():
    assert snippet("a\nb" + "c" * 200, "zebra") == "a b" + "c" * 77


def test_a_megabyte_paste_with_a_common_word_gives_a_short_snippet():
    text = "the cat sat on the mat. " * 45_000
    result = snippet(text, "mat")
    assert result.startswith("... ") and result.endswith(" ...")
    assert result == "... cat sat on the [mat]. the cat sat on the [mat]. the ..."


def test_a_lock_held_elsewhere_becomes_a_clear_store_error(tmp_path):
    with pytest.raises(StoreError) as caught, translate_errors(tmp_path / "nexus.db"):
        raise apsw.BusyError("database is locked")
    message = str(caught.value)
    assert f"locked by another program for {BUSY_TIMEOUT_MS // 1000} seconds" in message
    assert "Close other copies of Nexus Desktop" in message
