"""The engine: the store, the persistent session, memory and the model behind one turn.

No Qt here: the terminal chat drives it directly, the desktop app from a worker thread.
A turn is a generator of events, so every piece of the reply is a place to cancel. The
index thread (embeddings) runs beside it and never holds a turn up.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from nexus_desktop.config import Settings
from nexus_desktop.embed.indexer import IndexWorker
from nexus_desktop.embed.model import BUNDLED_NAME
from nexus_desktop.embed.shared import release_shared_embedding_model, shared_embedding_model
from nexus_desktop.embed.vectors import VectorIndex
from nexus_desktop.errors import (
    InferenceUnavailableError,
    InputError,
    NexusError,
    StoreError,
)
from nexus_desktop.governor.breaker import CircuitBreaker
from nexus_desktop.governor.memory import MemoryManager
from nexus_desktop.governor.ram import check_model_fits
from nexus_desktop.learning.control import LearningControl
from nexus_desktop.learning.examples import ExampleStore
from nexus_desktop.learning.learner import Learner, adapter_root
from nexus_desktop.learning.metrics import LearningMetrics
from nexus_desktop.learning.teacher import TeacherWorker
from nexus_desktop.llm.chat_model import ChatModel
from nexus_desktop.llm.generation import CancelToken, Sampling
from nexus_desktop.llm.loader import LoadReport, Status, load_chat_model
from nexus_desktop.memory.context import Budget, ContextBuilder, PromptPlan
from nexus_desktop.memory.fact_answers import FactAnswer, FactAnswerer
from nexus_desktop.memory.facts import extract_facts
from nexus_desktop.memory.maintenance import CompactionScheduler
from nexus_desktop.memory.recall import MemoryRecall, Recall
from nexus_desktop.memory.retrieval import Retriever
from nexus_desktop.memory.session import PersistentSession
from nexus_desktop.memory.skills import SkillLibrary, SkillMatch
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import OpenReport, app_database
from nexus_desktop.store.facts import FactStore
from nexus_desktop.store.messages import Message
from nexus_desktop.store.ratings import BAD, GOOD, ReplyRatings
from nexus_desktop.store.thoughts import ThoughtStream

log = logging.getLogger(__name__)

# How often a streaming reply's text so far is written down, so a crash loses little.
PARTIAL_SAVE_SECONDS = 1.5
# How often learning that is up to date looks for the teacher's new examples.
TEACHER_POLL_SECONDS = 0.5
# Retrieval skips the messages this close to the current one: they are in the recent
# turns the prompt shows anyway.
RECENT_MESSAGES = 40
# Retrieval reads at most this much of a message; a pasted book needs no more to be found.
QUERY_CHARS = 2000


@dataclass(frozen=True)
class Notice:
    """Something the user should be told during a turn (not part of the reply).

    ``remembered``: a fact was learned; each interface says where its facts are seen."""

    text: str
    remembered: bool = False

    def shown_in(self, where: str) -> str:
        """The text, pointing to ``where`` the user sees remembered facts."""
        return f"{self.text} (see {where})" if self.remembered else self.text


@dataclass(frozen=True)
class Piece:
    """The next piece of the reply's text."""

    text: str


@dataclass(frozen=True)
class TurnResult:
    user_message_id: int
    reply_id: int
    reply: str
    status: str
    source: str
    latency_ms: float
    ttft_ms: float | None
    prompt_tokens: int
    error: str | None = None
    # The skill replayed (source "skill"), or shown to the model as a worked example.
    skill_id: int | None = None
    skill_example: int | None = None

    def as_json(self) -> dict[str, object]:
        """What `nexus-desktop ask --json` and the HTTP API report of a turn."""
        payload: dict[str, object] = {"reply": self.reply, "source": self.source,
                                      "latency_ms": self.latency_ms, "ttft_ms": self.ttft_ms,
                                      "status": self.status}
        if self.skill_id is not None:
            payload["skill_id"] = self.skill_id
        if self.skill_example is not None:
            payload["skill_example"] = self.skill_example
        if self.error:
            payload["error"] = self.error
        return payload


TurnEvent = Notice | Piece | TurnResult


class Engine:
    def __init__(self, paths: AppPaths, settings: Settings, status: Status = log.info) -> None:
        self.paths = paths
        self.settings = settings
        self.status = status
        self.database = app_database(paths.database, paths.backups_dir, settings)
        self._session: PersistentSession | None = None
        self._model: ChatModel | None = None
        self.load_report: LoadReport | None = None
        self.last_plan: PromptPlan | None = None
        self.facts = FactStore(self.database)
        self.index = VectorIndex(self.database, BUNDLED_NAME)
        self.indexer = IndexWorker(self.database, self.index, shared_embedding_model,
                                   settings.get("embedding.batch_size"))
        self.retriever = Retriever(self.database, self.index, self._embed_query, settings)
        self.recall = MemoryRecall(self.database, self.retriever, settings)
        self.fact_answers = FactAnswerer(self._embed_query)
        self.compaction = CompactionScheduler(self.database, settings)
        self.last_answer: FactAnswer | None = None
        # The skill the last reply replayed or had as a worked example (for /why).
        self.last_skill: SkillMatch | None = None
        self.examples = ExampleStore(self.database)
        self.ratings = ReplyRatings(self.database)
        self.skills = SkillLibrary(self.database, settings, self._embed_query, BUNDLED_NAME,
                                   self.examples)
        self.learning = LearningControl(settings.get("learning.enabled"))
        self._learner: Learner | None = None
        self._closed = False
        self.teacher: TeacherWorker | None = None
        # Never set: waited on between checks for the teacher's new examples, so the
        # wait is an interruptible event wait rather than a sleep.
        self._teacher_arrived = threading.Event()
        # Where the recent turns in the last prompt began (see ContextBuilder.build).
        self._history_start: int | None = None
        self.thoughts = ThoughtStream(self.database)
        # The teacher's breaker lives in its thread; these two guard the model's work.
        self.breakers = {"inference": CircuitBreaker("inference"),
                         "learning": CircuitBreaker("learning")}
        # Chat turns since start: all, failed, answered from memory without the model, and
        # replayed from the skill library.
        self.requests = {"total": 0, "failed": 0, "from_memory": 0, "from_skills": 0}

    def open(self, *, background_indexing: bool = True) -> OpenReport:
        """Open the database and load the vector index; start the index thread unless told
        not to (commands that only read or change settings of memory do not need it)."""
        self.paths.ensure()
        report = self.database.open()
        self._session = PersistentSession(self.database)
        self.index.load()
        if background_indexing:
            self.indexer.start()
            self.compaction.run_if_due()
            self._prune_skills()
            if self.settings.get("teacher.enabled"):
                self.start_teacher()
        return report

    def start_teacher(self, topic: str | None = None) -> TeacherWorker:
        """The teacher thread, which keeps Ollama's examples ready ahead of learning
        (on ``topic`` only, when given)."""
        if self.teacher is None:
            self.teacher = TeacherWorker(self.database, self.settings,
                                         on_thought=self.thoughts.add)
            self.teacher.set_topic(topic)
            self.teacher.start()
        elif topic is not None:
            self.teacher.set_topic(topic)
        return self.teacher

    def warm_up(self) -> None:
        """Load both models now rather than in the first turn (the embedding model only
        when a turn will search by meaning, that is when there are vectors)."""
        self.load_model()
        if len(self.index):
            shared_embedding_model()

    def _embed_query(self, text: str) -> np.ndarray:
        return self.indexer.embed_query(text)

    @property
    def session(self) -> PersistentSession:
        if self._session is None:
            raise StoreError("The engine is not open yet.")
        return self._session

    def load_model(self) -> ChatModel:
        """The chat model, loaded on first use."""
        if self._closed:
            raise StoreError("The engine is closed; open a new one.")
        if self._model is None:
            self._model, self.load_report = load_chat_model(
                self.settings, self.paths, self.status,
                check_fits=lambda folder: check_model_fits(
                    folder, self.settings.get("resources.ram_mb")))
            if adapter_root(self.paths.adapters_dir, self._model.info.name).exists():
                # What was learned answers from the first turn on.
                self.learner()
        return self._model

    @property
    def loaded_model(self) -> ChatModel | None:
        """The chat model if it is loaded (never loads it)."""
        return self._model

    def learner(self) -> Learner:
        """The learner, with the newest good adapter loaded onto the chat model."""
        model = self.load_model()  # which creates the learner when there is an adapter
        if self._learner is None:
            learner = Learner(self.database, self.settings, model, self.paths.adapters_dir,
                              on_thought=self.thoughts.add)
            learner.open()
            self._learner = learner
            if learner.metrics.adapter_version is not None:
                self.status(f"Using what Nexus Desktop has learned (adapter version "
                            f"{learner.metrics.adapter_version}).")
        return self._learner

    def learn(self, seconds: float, topic: str | None = None) -> Iterator[LearningMetrics]:
        """Learn now for up to ``seconds`` of work, in slices; yields metrics after each.

        Stops early when the learning control says so (pause, stop, a user request) or
        nothing is left to learn. The open round is closed by ``finish_learning`` or at
        close.
        """
        self.check_learning_on()
        topic = topic if topic is not None else self.learning.topic
        if topic is not None and self.teacher is not None:
            self.teacher.set_topic(topic)
        learner = self.learner()
        spent_before = learner.metrics.learned_seconds
        started = time.monotonic()
        while self.learning.may_continue():
            work_left = seconds - (learner.metrics.learned_seconds - spent_before)
            if work_left <= 0:
                break
            yield from learner.run(work_left, self.learning.may_continue, topic)
            # Up to date, but the teacher is fetching more: wait for it, within the
            # same number of seconds on the clock.
            if (learner.metrics.state != "up to date" or not self._teacher_may_bring_more()
                    or time.monotonic() - started > seconds):
                break
            self._teacher_arrived.wait(TEACHER_POLL_SECONDS)

    def check_learning_on(self) -> None:
        if not self.settings.get("learning.enabled"):
            raise InputError("Learning is off. Turn it on with "
                             "`nexus-desktop config set learning.enabled true`.")

    def _teacher_may_bring_more(self) -> bool:
        return (self.teacher is not None and self.teacher.is_alive()
                and self.settings.get("teacher.enabled")
                and self.teacher.status().breaker.state != "open")

    def finish_learning(self) -> Iterator[LearningMetrics]:
        """Close the open learning round: the canary check, then a checkpoint or rollback."""
        if self._learner is not None:
            yield from self._learner.end_round(self.learning.may_continue)

    @property
    def learning_round_open(self) -> bool:
        return self._learner is not None and self._learner.round_open

    def learning_metrics(self) -> LearningMetrics:
        """A copy of the learner's metrics, with the control's state when it holds
        learning back, and the teacher's state."""
        if self._learner is not None:
            metrics = dataclasses.replace(self._learner.metrics)
        else:
            counts = self.examples.counts()
            metrics = LearningMetrics(new_examples=counts["new"],
                                      teacher_examples=counts["teacher"])
        if self.learning.state != "allowed":
            metrics.state = self.learning.state
        if self.teacher is not None:
            status = self.teacher.status()
            metrics.teacher = {"state": status.breaker.state, "last_error": status.last_error,
                               "examples_written": status.examples_written,
                               "retry_in_seconds": status.breaker.retry_in_seconds}
        return metrics

    def mark_good(self) -> None:
        """The last reply was good: learn it with a higher priority (and keep it as a skill
        when it answered a task)."""
        user_message, reply = self._last_exchange()
        self.examples.mark_good(user_message, reply)
        self.skills.rated(user_message, reply, good=True)

    def correct(self, better: str) -> None:
        """The user wrote the reply they wanted to their last message."""
        user_message, reply = self._last_exchange()
        self.examples.correct(user_message, reply, better)
        self.skills.corrected(user_message, reply, better)

    def rate_reply(self, reply_id: int, good: bool | None) -> None:
        """Thumbs up (learn this reply with a higher priority), down (never learn it), or
        None (take the rating back: the reply is an ordinary example again)."""
        reply = self.session.messages.get(reply_id)
        user_message = (self.session.messages.get(reply.reply_to)
                        if reply is not None and reply.reply_to is not None else None)
        if reply is None or reply.role != "assistant" or user_message is None:
            raise InputError(f"Message {reply_id} is not a reply that can be rated.")
        if good is None:
            self.examples.reject(reply)
            if reply.status == "complete" and reply.content:
                self.examples.add_exchange(user_message, reply)
        elif good:
            self.examples.mark_good(user_message, reply)
        else:
            self.examples.reject(reply)
        self.ratings.set(reply_id, None if good is None else GOOD if good else BAD)
        if good is not None:
            self.skills.rated(user_message, reply, good)

    def regenerate(self, reply_id: int, cancel: CancelToken | None = None,
                   context: str = "full") -> Iterator[TurnEvent]:
        """A fresh reply from the model to the message ``reply_id`` answered; the skill
        that made or helped make the old reply counts it as rejected."""
        reply = self.session.messages.get(reply_id)
        user_message = (self.session.messages.get(reply.reply_to)
                        if reply is not None and reply.reply_to is not None else None)
        if reply is None or reply.role != "assistant" or user_message is None:
            raise InputError(f"Message {reply_id} is not a reply that can be made again.")
        self.skills.regenerated(reply)
        yield from self.reply_to(user_message, cancel, context, fresh=True)

    def _last_exchange(self) -> tuple[Message, Message]:
        recent = self.session.history(2)
        if len(recent) < 2 or recent[-1].role != "assistant" or recent[-2].role != "user":
            raise InputError("There is no reply to mark yet: send a message first.")
        return recent[-2], recent[-1]

    def turn(self, text: str, cancel: CancelToken | None = None,
             context: str = "full", *, use_skills: bool = True) -> Iterator[TurnEvent]:
        """One exchange: commit the user's message, then stream and commit the reply.

        ``context`` is what the model is given besides the message: ``full`` (facts,
        recalled memories, summaries, recent turns), ``facts`` (facts only) or ``none``.
        Raises InputError or StoreError before anything else happens when the message
        cannot be saved; later failures end the turn with a ``failed`` result instead.
        ``use_skills=False`` asks the model even when a kept skill answers the request.
        """
        user_message = self.session.add_user_message(text)
        yield from self.reply_to(user_message, cancel, context, use_skills=use_skills)

    def reply_to(self, user_message: Message, cancel: CancelToken | None = None,
                 context: str = "full", *, fresh: bool = False,
                 use_skills: bool = True) -> Iterator[TurnEvent]:
        """The rest of a turn whose user message is already committed (the desktop app
        commits it at once, before the model thread is free).

        ``fresh``: a new reply to a message answered before (Regenerate): its facts and
        its verdict on the reply before it were taken then, and no skill is replayed.
        """
        cancel = cancel or CancelToken()
        self.requests["total"] += 1
        started = time.perf_counter()
        inference = self.breakers["inference"]
        allowed = False
        if not fresh:
            for learned in self._remember_facts(user_message):
                yield Notice(f"I'll remember: {learned}", remembered=True)
            self._judge_previous_reply(user_message)
        self.last_answer = None
        skill = (self._match_skill(user_message)
                 if context == "full" and use_skills and not fresh else None)
        self.last_skill = skill
        if skill is not None and skill.kind == "replay":
            yield from self._replay_skill(user_message, skill, started)
            return
        example = skill if skill is not None and skill.kind == "example" else None
        try:
            recall = self._recall(user_message, context)
            self.last_answer = self._answer_from_memory(user_message, recall)
            if self.last_answer is None:
                allowed = inference.allow()
                if not allowed:
                    raise InferenceUnavailableError(_unavailable(inference))
                model = self.load_model()
                plan = self._plan(model, user_message, recall, example)
        except NexusError as exc:
            if allowed:
                inference.record_failure(str(exc))
            self.requests["failed"] += 1
            reply = self.session.record_failed_reply(user_message, str(exc))
            yield TurnResult(user_message.id, reply.id, "", "failed", "model",
                             _ms(started), None, 0, str(exc))
            return
        if self.last_answer is not None:
            yield from self._reply_from_memory(user_message, self.last_answer, started)
            return
        for shortened in plan.shortened:
            if shortened.message_id == user_message.id:
                yield Notice(
                    f"Your message has {shortened.original_chars:,} characters; the model reads "
                    f"only its beginning and end ({shortened.shown_chars:,} characters). The "
                    "whole message is saved in your history."
                )
        reply = self.session.begin_reply(user_message, model.info.name)
        if example is not None:
            self._record_skill_use(reply.id, example)
        pieces: list[str] = []
        status, error, ttft = "complete", None, None
        last_save = time.monotonic()
        try:
            for piece in model.stream(plan.prompt_ids, self._sampling(plan), cancel,
                                      self.settings.get("generation.reuse_prefix")):
                if ttft is None:
                    ttft = _ms(started)
                pieces.append(piece)
                yield Piece(piece)
                if time.monotonic() - last_save > PARTIAL_SAVE_SECONDS:
                    self.session.save_partial(reply, "".join(pieces))
                    last_save = time.monotonic()
            if cancel.cancelled:
                status = "cancelled"
        except (GeneratorExit, KeyboardInterrupt):
            # The consumer stopped listening or the user interrupted: a cancelled reply.
            status = "cancelled"
            raise
        except NexusError as exc:
            status, error = "failed", str(exc)
        except Exception as exc:
            log.exception("generation failed")
            status, error = "failed", f"generation failed: {exc}"
        finally:
            if status == "failed":
                inference.record_failure(error or "generation failed")
                self.requests["failed"] += 1
            else:
                inference.record_success()
            self.session.finish_reply(reply, "".join(pieces), status, error)
            if status == "complete" and pieces and context == "full":
                # Only the real conversation teaches: a reply made without memory
                # (--context facts/none) is a probe of the model, often a wrong one.
                self._queue_example(user_message, reply.id)
            self._after_reply()
        yield TurnResult(user_message.id, reply.id, "".join(pieces), status, "model",
                         _ms(started), ttft, len(plan.prompt_ids), error,
                         skill_example=example.skill.id if example is not None else None)

    def _judge_previous_reply(self, user_message: Message) -> None:
        """The new message accepts or corrects the reply before it (skill library)."""
        try:
            self.skills.next_message(user_message, self.session.before(user_message.id, 2))
        except NexusError:
            log.exception("judging the reply before message %s failed", user_message.id)

    def _match_skill(self, user_message: Message) -> SkillMatch | None:
        """The skill for this request; a failure here only means the model answers."""
        try:
            return self.skills.match(user_message.content[:QUERY_CHARS])
        except Exception:
            log.exception("matching skills for message %s failed", user_message.id)
            return None

    def _record_skill_use(self, reply_id: int, match: SkillMatch) -> None:
        try:
            self.skills.record_use(reply_id, match)
        except NexusError:
            log.exception("recording the use of skill %s failed", match.skill.id)

    def _replay_skill(self, user_message: Message, match: SkillMatch,
                      started: float) -> Iterator[TurnEvent]:
        """The same request as a skill's: its kept reply, without the model."""
        self.last_plan = None
        self.requests["from_skills"] += 1
        reply = self.session.record_reply(user_message, match.skill.result, "skill")
        self._record_skill_use(reply.id, match)
        self._after_reply()
        yield Piece(match.skill.result)
        latency = _ms(started)
        yield TurnResult(user_message.id, reply.id, match.skill.result, "complete", "skill",
                         latency, latency, 0, skill_id=match.skill.id)

    def _queue_example(self, user_message: Message, reply_id: int) -> None:
        """A completed exchange becomes a training example (after it is saved)."""
        try:
            reply = self.session.messages.get(reply_id)
            if reply is not None:
                self.examples.add_exchange(user_message, reply)
        except NexusError:
            log.exception("queuing exchange %s for learning failed", reply_id)

    def _remember_facts(self, message: Message) -> list[str]:
        """Facts stated in the user's message, stored; their texts, for a notice.

        Runs after the message is committed, so a failure here loses nothing: it is
        logged and the turn goes on.
        """
        learned: list[str] = []
        try:
            for candidate in extract_facts(message.content[:QUERY_CHARS]):
                fact = self.facts.remember(candidate, message.id, "pattern")
                learned.append(fact.text)
        except NexusError:
            log.exception("storing the facts of message %s failed", message.id)
        return learned

    def _recall(self, user_message: Message, context: str) -> Recall:
        recent = [user_message.id,
                  *(m.id for m in self.session.before(user_message.id, RECENT_MESSAGES))]
        return self.recall.recall(user_message.content[:QUERY_CHARS], context,
                                  exclude_messages=recent)

    def _answer_from_memory(self, user_message: Message, recall: Recall) -> FactAnswer | None:
        if recall.mode == "none" or not self.settings.get("memory.answer_fact_questions"):
            return None
        facts = [f.fact for f in recall.facts if f.fact is not None]
        return self.fact_answers.answer(user_message.content, facts)

    def _reply_from_memory(self, user_message: Message, answer: FactAnswer,
                           started: float) -> Iterator[TurnEvent]:
        self.last_plan = None
        self.requests["from_memory"] += 1
        reply = self.session.record_reply(user_message, answer.answer, "memory")
        self.facts.touch([answer.fact_id])
        self._after_reply()
        yield Piece(answer.answer)
        latency = _ms(started)
        yield TurnResult(user_message.id, reply.id, answer.answer, "complete", "memory",
                         latency, latency, 0)

    def _after_reply(self) -> None:
        """Background work a new exchange calls for: its vectors, and a daily compaction
        while the app runs (only with the background threads, see ``open``)."""
        self.indexer.notify()
        if self.indexer.running:
            self.compaction.run_if_due()
            self._prune_skills()

    def _prune_skills(self) -> None:
        try:
            self.skills.prune()
        except NexusError:
            log.exception("pruning the skill library failed")

    def _plan(self, model: ChatModel, user_message: Message, recall: Recall,
              example: SkillMatch | None = None) -> PromptPlan:
        budget = Budget.for_window(model.info.context_window,
                                   self.settings.get("generation.max_new_tokens"))
        builder = ContextBuilder(
            model, self.session, self.settings.get("chat.persona"),
            self.settings.get("chat.message_tokens"), budget,
        )
        worked = (example.skill.intent, example.skill.result) if example is not None else None
        self.last_plan = builder.build(user_message, recall, self._history_start, worked)
        if self.last_plan.history_ids:
            self._history_start = self.last_plan.history_ids[0]
        return self.last_plan

    def _sampling(self, plan: PromptPlan) -> Sampling:
        get = self.settings.get
        return Sampling(
            max_new_tokens=plan.budget.reply_tokens,
            temperature=get("generation.temperature"),
            top_p=get("generation.top_p"),
            repetition_penalty=get("generation.repetition_penalty"),
        )

    def register_cleanups(self, memory: MemoryManager) -> None:
        """What the memory manager may free: caches first, then buffers, the embedding
        model (loaded again when needed) and the database's free pages."""
        memory.register_cleanup("gentle", "prefix cache", self._clear_prefix_cache)
        memory.register_cleanup("aggressive", "replay buffer", self._trim_replay)
        memory.register_cleanup("aggressive", "embedding model", self._unload_embeddings)
        memory.register_cleanup("aggressive", "database", self.database.release_free_pages)

    def _clear_prefix_cache(self) -> None:
        if self._model is not None:
            self._model.prefix.clear()

    def _trim_replay(self) -> int:
        if self._learner is None:
            return 0
        replay = self._learner.replay
        return len(replay.trim_to(len(replay) * 3 // 4))

    def _unload_embeddings(self) -> bool:
        unloaded = self.indexer.unload_model()
        release_shared_embedding_model()
        return unloaded

    def close(self, deadline: float | None = None) -> None:
        """Stop the threads; an open learning round is checked and saved first, or, when
        the check cannot end by ``deadline`` (time.monotonic), left unsaved."""
        if self._learner is not None:
            try:
                if not self._learner.finish(deadline):
                    self.thoughts.add("learning", "quit before the open round could be "
                                      "checked: its learning since the last version is "
                                      "not kept")
            except NexusError:
                log.exception("closing the learning round failed")
        if self.teacher is not None:
            self.teacher.stop()
        self.indexer.stop()
        self.compaction.wait()
        self.database.close()
        # The engine's parts point back at it (callbacks to its methods), so it is only
        # freed by a full garbage collection, which may be long in coming. Letting go of
        # the model and the learner here returns their hundreds of MB at close.
        self._learner = None
        self._model = None
        self._closed = True


def _unavailable(breaker: CircuitBreaker) -> str:
    state = breaker.snapshot()
    return (f"The model failed {state.failures} times in a row (last: {state.last_error}). "
            f"Nexus Desktop tries it again in {state.retry_in_seconds:.0f} s; your message "
            "is saved, send it again then.")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
