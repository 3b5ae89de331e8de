"""Search over the whole conversation: by its words (full text) and by meaning (hybrid
recall), on the store thread. Activating a result asks the window to show it in context.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nexus_desktop.store.snippets import snippet
from nexus_desktop.ui.chat_pages import require_engine
from nexus_desktop.ui.chat_tasks import ask
from nexus_desktop.ui.chat_view import NAMES
from nexus_desktop.ui.engine_host import EngineHost

if TYPE_CHECKING:
    from nexus_desktop.engine import Engine

WORD_RESULTS = 20
MEANING_RESULTS = 10
_MESSAGE_ID = Qt.ItemDataRole.UserRole
WORDS_HEADING = "With these words"
# Search by meaning always has nearest messages, however far: they are listed apart, so
# that a word nowhere in the conversation still reads as "not found".
MEANING_HEADING = "Close in meaning"
OPEN_HINT = "Open one (double-click or Enter) to see it in the conversation."


@dataclass(frozen=True)
class SearchResult:
    message_id: int
    created_at: float
    role: str | None
    speaker: str | None
    snippet: str
    found_by: str  # "words" (all the words are in it) or "meaning"

    def line(self) -> str:
        who = self.speaker or NAMES.get(self.role or "", self.role or "")
        date = datetime.fromtimestamp(self.created_at).strftime("%Y-%m-%d %H:%M")
        return f"{date}  {who}: {self.snippet}"


def find_messages(engine: Engine, text: str) -> list[SearchResult]:
    """Messages with all the words of ``text`` first, then those near it in meaning."""
    results: list[SearchResult] = []
    for hit in engine.session.search(text, WORD_RESULTS):
        message = hit.message
        results.append(SearchResult(message.id, message.created_at, message.role,
                                    message.speaker, hit.snippet, "words"))
    seen = {result.message_id for result in results}
    # Looking something up is not using it: recency and counts stay as they were.
    for memory in engine.retriever.search(text, MEANING_RESULTS, "hybrid", touch=False):
        if memory.kind == "message" and memory.id not in seen and memory.text.strip():
            seen.add(memory.id)
            results.append(SearchResult(memory.id, memory.created_at, memory.role,
                                        memory.speaker, snippet(memory.text, text),
                                        "meaning"))
    return results


def summary(text: str, words: int, meaning: int) -> str:
    """What a search found, in a sentence."""
    if not words and not meaning:
        return f"Nothing found for {text!r}. Try other words."
    if not words:
        return f"No message has all the words of {text!r}; the closest in meaning are " \
               f"listed. {OPEN_HINT}"
    return f"{words} with all the words of {text!r}. {OPEN_HINT}"


class SearchPanel(QWidget):
    """A search box and its results; ``message_activated`` names the message chosen."""

    message_activated = Signal(int)

    def __init__(self, host: EngineHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("search-panel")
        self._host = host
        self._asked = 0
        self.results: list[SearchResult] = []
        self.field = QLineEdit(self)
        self.field.setObjectName("chat-search")
        self.field.setPlaceholderText("Search everything we said (Enter)")
        self.field.setClearButtonEnabled(True)
        self.field.returnPressed.connect(self.search)
        self.status_label = QLabel("Words and meaning: finds what was said in other words "
                                   "too.", self)
        self.status_label.setObjectName("search-status")
        self.status_label.setWordWrap(True)
        self.status_label.setStyleSheet("color: gray;")
        self.list = QListWidget(self)
        self.list.setObjectName("search-results")
        self.list.setWordWrap(True)
        self.list.itemActivated.connect(self._on_activated)
        layout = QVBoxLayout(self)
        layout.addWidget(self.field)
        layout.addWidget(self.status_label)
        layout.addWidget(self.list, stretch=1)

    @Slot()
    def search(self) -> None:
        text = self.field.text().strip()
        if not text:
            return
        # Only the answer to the latest search is shown, however the searches overlap.
        self._asked += 1
        asked = self._asked
        host = self._host
        self.status_label.setText(f"Searching for {text!r}...")
        ask(host, self, lambda: find_messages(require_engine(host.engine), text),
            lambda results: self._show(asked, text, results),
            lambda exc: self._failed(asked, exc))

    def _show(self, asked: int, text: str, results: list[SearchResult]) -> None:
        if asked != self._asked:
            return
        self.results = results
        self.list.clear()
        words = [r for r in results if r.found_by == "words"]
        meaning = [r for r in results if r.found_by == "meaning"]
        for heading, group in ((WORDS_HEADING, words), (MEANING_HEADING, meaning)):
            if group:
                self._add_heading(heading)
            for result in group:
                item = QListWidgetItem(result.line())
                item.setData(_MESSAGE_ID, result.message_id)
                self.list.addItem(item)
        self.status_label.setText(summary(text, len(words), len(meaning)))

    def _add_heading(self, text: str) -> None:
        # A heading cannot be chosen: it names the kind of results below it.
        item = QListWidgetItem(text)
        item.setFlags(Qt.ItemFlag.NoItemFlags)
        font = item.font()
        font.setBold(True)
        item.setFont(font)
        self.list.addItem(item)

    def items(self) -> list[QListWidgetItem]:
        """The result rows shown (not the headings), in order."""
        return [item for item in (self.list.item(i) for i in range(self.list.count()))
                if item.data(_MESSAGE_ID) is not None]

    def _failed(self, asked: int, exc: Exception) -> None:
        if asked == self._asked:
            self.status_label.setText(f"The search failed: {exc}")

    @Slot(QListWidgetItem)
    def _on_activated(self, item: QListWidgetItem) -> None:
        message_id = item.data(_MESSAGE_ID)
        if message_id is not None:
            self.message_activated.emit(int(message_id))
