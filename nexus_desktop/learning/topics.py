"""What the Ollama teacher teaches: the user's focus topics, or a built-in list of academic
subjects, taken in turn so the examples spread over all of them instead of piling up on one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from nexus_desktop.errors import ConfigError

# Broad school and university subjects: a general curriculum for a small model, used when
# the user has not named topics of their own.
ACADEMIC_SUBJECTS: tuple[str, ...] = (
    "algebra",
    "geometry",
    "calculus",
    "probability and statistics",
    "physics",
    "chemistry",
    "biology",
    "astronomy",
    "earth science",
    "ecology",
    "human anatomy",
    "world history",
    "ancient history",
    "geography",
    "economics",
    "political science",
    "philosophy",
    "psychology",
    "sociology",
    "linguistics",
    "English grammar",
    "world literature",
    "art history",
    "music theory",
    "computer science",
    "programming",
    "logic",
    "nutrition and health",
    "environmental science",
    "engineering basics",
)

# Longer than this is a sentence, not a topic; it would also crowd the teacher's prompt.
MAX_TOPIC_CHARS = 100
SETTING = "learning.focus_topics"


def check_topic(text: str) -> str:
    """One topic, stripped; ConfigError when it is empty, too long or not plain text."""
    topic = text.strip()
    if not topic:
        raise ConfigError("A topic must not be empty.")
    if len(topic) > MAX_TOPIC_CHARS:
        raise ConfigError(
            f"The topic {topic[:40]!r}... is {len(topic)} characters long; a topic may have at "
            f"most {MAX_TOPIC_CHARS}. Name the subject in a few words."
        )
    if not topic.isprintable():
        raise ConfigError(f"The topic {topic!r} holds control characters; use plain text.")
    return topic


def focus_topics(setting_text: str) -> list[str]:
    """The topics named in ``learning.focus_topics``: comma separated, stripped, without
    empties or repeats (compared ignoring case). "-" or blank gives an empty list, which
    means the built-in subjects."""
    if setting_text.strip() in ("", "-"):
        return []
    topics: list[str] = []
    seen: set[str] = set()
    for part in setting_text.split(","):
        if not part.strip():
            continue
        try:
            topic = check_topic(part)
        except ConfigError as exc:
            raise ConfigError(
                f"{SETTING}: {exc} Separate topics with commas, or use \"-\" for the built-in "
                "list of academic subjects."
            ) from None
        if topic.casefold() not in seen:
            seen.add(topic.casefold())
            topics.append(topic)
    return topics


class TopicRotation:
    """Hands out topics in turn: the focus topics in the order given, or the built-in
    subjects in an order shuffled afresh each pass (seeded, so tests can predict it).

    The topic list is passed to each ``next`` call, so a changed setting takes effect at
    the next request; an unchanged one continues where it was.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self._source: tuple[str, ...] | None = None
        self._pending: list[str] = []

    def next(self, topics: Sequence[str] = ()) -> str:
        """The next topic of ``topics``, or of the built-in subjects when it is empty."""
        source = tuple(topics)
        if source != self._source:
            self._source = source
            self._pending = []
        if not self._pending:
            if source:
                self._pending = list(source)
            else:
                self._pending = list(ACADEMIC_SUBJECTS)
                self._random.shuffle(self._pending)
        return self._pending.pop(0)
