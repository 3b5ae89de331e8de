"""Word lists behind fact extraction: people and pets, jobs, and the words that make a
sentence something other than a plain statement about the user."""

from __future__ import annotations

import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


PETS = _words("""
dog puppy cat kitten pet bird parrot hamster rabbit bunny horse fish turtle tortoise snake
lizard pig
""")
# People and animals a user talks about; "my sister is Ana" names the sister.
RELATIONS = _words("""
wife husband partner spouse boyfriend girlfriend fiance fiancee fiancé fiancée son daughter
kid kids child children baby mom mother dad father parents sister brother sibling siblings
twin grandmother grandma granny grandfather grandpa grandson granddaughter aunt uncle cousin
niece nephew friend bestie boss manager colleague coworker co-worker roommate flatmate
housemate neighbor therapist doctor dentist teacher mentor
""") | PETS

DIETS = frozenset({"vegetarian", "vegan", "pescatarian", "pescetarian", "lacto-vegetarian",
                   "flexitarian", "kosher", "halal", "gluten-free", "lactose intolerant"})

_JOB_WORDS = _words("""
nurse chef pilot judge surgeon architect nanny midwife clerk barista vet paramedic mechanic
mason detective librarian historian veterinarian comedian custodian student agent president
consultant accountant assistant attendant merchant sergeant lieutenant ceo cto cfo coo intern
housewife secretary attorney diplomat priest pastor rabbi imam monk nun analyst coach tutor
barber butler maid waitress hostess actress stewardess medic paralegal dietitian postdoc
entrepreneur sommelier correspondent superintendent pharmacist dentist
""")
_JOB_ENDINGS = ("er", "or", "ist", "ician", "eer", "man", "smith", "ologist", "grapher")
_NOT_JOBS = _words("""
beginner lover fan member user owner smoker non-smoker newcomer foreigner stranger dreamer
believer gamer reader runner customer winner loser sinner partner mother father brother
sister daughter grandmother grandfather teenager worrier overthinker thinker talker listener
learner sleeper eater drinker walker swimmer hiker climber biker jogger skier surfer killer
visitor donor survivor ancestor neighbor neighbour junior senior major minor warrior
predator competitor optimist pessimist realist idealist perfectionist minimalist feminist
tourist atheist racist leftist socialist nationalist extremist purist cyclist human woman
german gentleman man caveman superman batman snowman roman norman ottoman introvert
extrovert ambivert person twin leo virgo scorpio taurus gemini cancer libra aries pisces
sagittarius capricorn aquarius fighter supporter follower admirer collector
""")


def is_job(noun: str) -> bool:
    """A guess from the head noun whether "I'm a <noun>" is what the user does for work."""
    head = noun.lower().split()[-1] if noun.split() else ""
    if head in _NOT_JOBS or head in DIETS:
        return False
    return head in _JOB_WORDS or head.endswith(_JOB_ENDINGS)


# Head nouns of "my <key> is ..." that say nothing lasting about the user ("my point is",
# "my head is killing me").
NOT_KEYS = _words("""
point question guess problem issue bad god goodness gosh turn pleasure opinion answer hope
concern suggestion understanding feeling worry idea thought thoughts reason fault mistake
advice impression excuse head heart mind day life experience bet apologies condolences
take view plan request message reply response prompt thing stuff
""")

# A value that names nothing on its own.
EMPTY_VALUES = _words("""
it that this these those them him her me myself you something nothing anything everything all
both one here there home work night nights weekends somewhere anywhere everywhere
""")

# "call me later" is not a name.
NOT_NAMES = _words("""
later tomorrow tonight back anytime whenever when if crazy old-fashioned maybe sometime
soon now again please a an the whatever what anything names by on at in sometimes
""")

MONTHS = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b",
    re.IGNORECASE,
)
