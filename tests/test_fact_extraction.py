"""Fact extraction by patterns: what a user says about themselves becomes (subject, key,
value), and questions, hypotheticals, hedges and negations become nothing."""

from __future__ import annotations

import pytest

from nexus_desktop.memory.facts import FactCandidate, extract_facts
from nexus_desktop.store.fact_phrasing import fact_questions, fact_sentence, normalise_key


def triples(text: str) -> list[tuple[str, str, str]]:
    return [(f.subject, f.key, f.value) for f in extract_facts(text)]


STATED = [
    ("my favorite color is teal", [("user", "favorite color", "teal")]),
    ("My favourite colour is teal.", [("user", "favorite color", "teal")]),
    ("my fave color is teal!", [("user", "favorite color", "teal")]),
    ("actually my favorite color is green", [("user", "favorite color", "green")]),
    ("No, my favorite color is green.", [("user", "favorite color", "green")]),
    ("you're wrong, my favorite color is blue", [("user", "favorite color", "blue")]),
    ("My favorite color is teal, not blue.", [("user", "favorite color", "teal")]),
    ("my favourite drink is coffee :)", [("user", "favorite drink", "coffee")]),
    ("My favorite colors are blue and green",
     [("user", "favorite colors", "blue and green")]),
    ("My favorite food is fish and chips", [("user", "favorite food", "fish and chips")]),
    ("my favorite movie is The Matrix", [("user", "favorite movie", "The Matrix")]),
    ("my favorite hobby is painting", [("user", "favorite hobby", "painting")]),
    ("My name is Sam", [("user", "name", "Sam")]),
    ("my name's Sam", [("user", "name", "Sam")]),
    ("My name is Sam lol", [("user", "name", "Sam")]),
    ("Hi, I'm Sam", [("user", "name", "Sam")]),
    ("Hello! I am Maria.", [("user", "name", "Maria")]),
    ("my birthday is May 3rd", [("user", "birthday", "May 3rd")]),
    ("My date of birth is 4 July 1990", [("user", "birthday", "4 July 1990")]),
    ("my email is sam@example.com", [("user", "email", "sam@example.com")]),
    ("My doctor is Dr. Smith.", [("user", "doctor", "Dr. Smith")]),
    ("my wife's name is Ana", [("user's wife", "name", "Ana")]),
    ("My dog is called Rex", [("user's dog", "name", "Rex")]),
    ("my dog's name is Rex", [("user's dog", "name", "Rex")]),
    ("I have a cat named Miso", [("user's cat", "name", "Miso")]),
    ("my sister is Ana", [("user's sister", "name", "Ana")]),
    ("my best friend is called Jo", [("user's best friend", "name", "Jo")]),
    ("My Mum's birthday is on June 3", [("user's mom", "birthday", "on June 3")]),
    ("I'm a nurse", [("user", "job", "nurse")]),
    ("I work as a nurse", [("user", "job", "nurse")]),
    ("my sister is a nurse", [("user's sister", "job", "nurse")]),
    ("I am a software engineer at Google",
     [("user", "job", "software engineer"), ("user", "employer", "Google")]),
    ("I work at Acme as an accountant",
     [("user", "employer", "Acme"), ("user", "job", "accountant")]),
    ("I work for Acme", [("user", "employer", "Acme")]),
    ("I'm vegetarian", [("user", "diet", "vegetarian")]),
    ("I'm 34 years old", [("user", "age", "34")]),
    ("I'm 34", [("user", "age", "34")]),
    ("my son just turned 5", [("user's son", "age", "5")]),
    ("I live in Lyon", [("user", "home city", "Lyon")]),
    ("I moved to Lyon last year", [("user", "home city", "Lyon")]),
    ("we moved to Berlin in 2019", [("user", "home city", "Berlin")]),
    ("correction: I live in Berlin now", [("user", "home city", "Berlin")]),
    ("I've been living in Oslo for 3 years", [("user", "home city", "Oslo")]),
    ("my wife and I live in Lyon", [("user", "home city", "Lyon")]),
    ("We live in Toronto, Canada", [("user", "home city", "Toronto, Canada")]),
    ("I'm from Marseille", [("user", "hometown", "Marseille")]),
    ("I'm from the US", [("user", "hometown", "the US")]),
    ("I grew up in Nantes", [("user", "hometown", "Nantes")]),
    ("I was born in Lyon", [("user", "birthplace", "Lyon")]),
    ("I was born in 1990", [("user", "birth year", "1990")]),
    ("my parents live in Rome", [("user's parents", "home city", "Rome")]),
    ("my sister lives in Paris", [("user's sister", "home city", "Paris")]),
    ("I like pizza", [("user", "feeling about pizza", "likes")]),
    ("I don't like olives", [("user", "feeling about olives", "dislikes")]),
    ("I hate Mondays", [("user", "feeling about Mondays", "hates")]),
    ("I love to cook", [("user", "feeling about cooking", "loves")]),
    ("I really love sushi, ramen and pho", [
        ("user", "feeling about sushi", "loves"), ("user", "feeling about ramen", "loves"),
        ("user", "feeling about pho", "loves")]),
    ("my kids love pizza", [("user's kids", "feeling about pizza", "loves")]),
    ("call me Sam", [("user", "preferred name", "Sam")]),
    ("You can call me Bea.", [("user", "preferred name", "Bea")]),
    ("Remember that the dentist is on Friday", [("the dentist", "note", "on Friday")]),
    ("remember: the meeting is at 3pm", [("the meeting", "note", "at 3pm")]),
    ("Don't forget that the party is on Saturday", [("the party", "note", "on Saturday")]),
    ("Please remember my wife's birthday is March 3.", [("user's wife", "birthday", "March 3")]),
    ("Can you remember that my dog's name is Rex?", [("user's dog", "name", "Rex")]),
    ("I think my favorite color is blue", [("user", "favorite color", "blue")]),
    ("My name is Sam and I live in Lyon, but my sister lives in Paris.", [
        ("user", "name", "Sam"), ("user", "home city", "Lyon"),
        ("user's sister", "home city", "Paris")]),
    ("I live in Lyon. I live in Paris now.", [("user", "home city", "Paris")]),
    ("What's my favorite color? It's teal. My dog is Rex.", [("user's dog", "name", "Rex")]),
    ("I live in Lyon but I might move to Paris", [("user", "home city", "Lyon")]),
    ("My name is Sam, what's yours?", [("user", "name", "Sam")]),
    ("I live in Lyon - have you been there?", [("user", "home city", "Lyon")]),
]


@pytest.mark.parametrize(("text", "expected"), STATED, ids=[t for t, _ in STATED])
def test_statements_become_facts(text: str, expected: list[tuple[str, str, str]]):
    assert triples(text) == expected


NOT_FACTS = [
    "what is my favorite color?",
    "what is my favorite color",
    "What's my favourite colour",
    "Do you know my name is Sam",
    "Is my favorite color blue?",
    "My favorite color is blue, right?",
    "my favorite color is blue, isn't it?",
    "What's my favorite color, do you remember?",
    "tell me my favorite color",
    "my favorite color is not blue",
    "My favorite color isn't blue.",
    "my name is not important",
    "I'm not a nurse",
    "I don't live in Lyon anymore",
    "I no longer work at Acme",
    "I used to live in Paris",
    "my favorite color was blue",
    "my favourite colour used to be blue",
    "my favorite color is maybe blue",
    "I'm not sure my favorite color is blue",
    "If my name were Bob I would be sad",
    "Imagine I live in Paris and my name is Bob",
    "Let's say my name is Bob.",
    "Pretend my favorite color is red",
    "I'm moving to Berlin next month",
    "you said my favorite color is blue",
    "The dentist is on Friday",
    "remember to buy milk",
    "remember that it is raining",
    "my back is killing me",
    "my sister is coming over",
    "my point is that we should go",
    "My guess is that it rains",
    "I love you",
    "I like it when you talk",
    "I like that",
    "call me later",
    "Call me tomorrow!",
    "I'm a big fan of jazz",
    "I'm a mother of two",
    "I'm a Leo",
    "I am Maria",
    "Hi, I'm tired",
    "I'm tired",
    "I'm 5 minutes away",
    "I live in a small flat",
    "I work at a hospital",
    "I work for myself",
    "I'd like a coffee",
    "",
    "   ",
    "...",
]


@pytest.mark.parametrize("text", NOT_FACTS)
def test_questions_hypotheticals_hedges_and_negations_make_no_fact(text: str):
    assert extract_facts(text) == []


def test_a_candidate_reads_well_in_a_prompt():
    [fact] = extract_facts("my favourite colour is teal")
    assert fact == FactCandidate("user", "favorite color", "teal",
                                 "The user's favorite color is teal.", fact.confidence)
    texts = {f.key: f.text for f in extract_facts(
        "I live in Lyon and I work at Acme. I'm a nurse. I'm 34. I love jazz. Call me Sam. "
        "I was born in 1990. I'm vegetarian. I'm from Nantes.")}
    assert texts == {
        "home city": "The user lives in Lyon.",
        "employer": "The user works at Acme.",
        "job": "The user works as a nurse.",
        "age": "The user is 34 years old.",
        "feeling about jazz": "The user loves jazz.",
        "preferred name": "The user wants to be called Sam.",
        "birth year": "The user was born in 1990.",
        "diet": "The user is vegetarian.",
        "hometown": "The user is from Nantes.",
    }
    assert [f.text for f in extract_facts("my parents live in Rome. I love my dog.")] == [
        "The user's parents live in Rome.", "The user loves their dog."]
    assert [f.text for f in extract_facts("remember that the keys are in the drawer")] == [
        "The keys are in the drawer."]


def test_confidence_follows_how_the_fact_was_said():
    def confidence(text: str) -> float:
        [fact] = extract_facts(text)
        return fact.confidence

    plain = confidence("my favorite color is blue")
    assert 0 < confidence("I think my favorite color is blue") < plain
    assert 0 < confidence("my favorite color is probably blue") < plain
    assert plain < confidence("actually my favorite color is blue")
    assert plain < confidence("remember that my favorite color is blue") <= 0.95
    assert all(0 < f.confidence <= 0.95 for f in extract_facts(
        "I like jazz. My name is Sam. I live in Lyon. Remember the party is at 8."))


def test_the_later_statement_of_the_same_fact_wins_and_keeps_its_order():
    facts = extract_facts("My favorite color is blue. I live in Lyon. No wait, my favorite "
                          "color is green.")
    assert [(f.key, f.value) for f in facts] == [("home city", "Lyon"),
                                                  ("favorite color", "green")]


def test_long_pastes_and_odd_text_do_not_break_extraction():
    text = ("lorem ipsum " * 5000) + "\nmy favorite color is teal\n" + "\x00\u200b???!!!" * 100
    assert triples(text) == [("user", "favorite color", "teal")]
    assert triples("MY FAVORITE COLOR IS TEAL") == [("user", "favorite color", "TEAL")]
    assert triples("my favorite color is \u201cteal\u201d") == [("user", "favorite color", "teal")]
    assert triples("my cat\u2019s name is Miso") == [("user's cat", "name", "Miso")]


@pytest.mark.parametrize(("words", "key"), [
    ("Favourite  Colour", "favorite color"), ("fave colour", "favorite color"),
    ("date of birth", "birthday"), ("b-day", "birthday"), ("home town", "hometown"),
    ("surname", "last name"), ("phone number", "phone number"),
])
def test_keys_are_spelled_one_way(words: str, key: str):
    assert normalise_key(words) == key


def test_questions_and_answers_are_in_the_users_words():
    assert fact_questions("user", "favorite color", "teal") == [
        ("What is my favorite color?", "Your favorite color is teal."),
        ("Do you remember my favorite color?", "Yes, your favorite color is teal."),
        ("Tell me my favorite color.", "Your favorite color is teal."),
    ]
    assert fact_questions("user's sister", "home city", "Paris") == [
        ("Where does my sister live?", "Your sister lives in Paris."),
        ("Which city does my sister live in?", "Your sister lives in Paris."),
    ]
    assert fact_questions("user", "feeling about olives", "dislikes") == [
        ("How do I feel about olives?", "You dislike olives."),
        ("Do I like olives?", "No, you dislike olives."),
    ]
    assert ("What do you remember about the dentist?", "The dentist is on Friday.") in \
        fact_questions("the dentist", "note", "on Friday")
    assert ("How old am I?", "You are 34 years old.") in fact_questions("user", "age", "34")
    assert fact_sentence("user's parents", "feeling about jazz", "loves") == \
        "The user's parents love jazz."
    assert fact_sentence("user", "favorite place", "my garden") == \
        "The user's favorite place is their garden."
    assert fact_questions("user", "favorite place", "my garden")[0][1] == \
        "Your favorite place is your garden."


def test_a_sentence_too_long_to_be_a_statement_is_not_read():
    assert triples("my favorite color is teal " + "and so on " * 200) == []
    assert triples(("blah " * 300) + ". My favorite color is teal.") == [
        ("user", "favorite color", "teal")]
