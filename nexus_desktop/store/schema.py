"""The database schema as a list of migrations; ``PRAGMA user_version`` says how many ran.

A migration is never edited once released: a change to the schema is a new entry at
the end. Tables from docs/ARCHITECTURE.md that are not here yet arrive as later
migrations with the features that use them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "the persistent session and its messages, with full-text search",
        """
        CREATE TABLE sessions(
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL
        );

        -- Every message of the conversation, for the life of the install. Rows move
        -- through tiers (full -> compressed -> archived) but are never deleted.
        CREATE TABLE messages(
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
            content TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'streaming', 'cancelled', 'failed', 'interrupted')),
            source TEXT NOT NULL DEFAULT 'user',
            model TEXT,
            reply_to INTEGER REFERENCES messages(id),
            error TEXT,
            created_at REAL NOT NULL,
            completed_at REAL,
            tier TEXT NOT NULL DEFAULT 'full' CHECK (tier IN ('full', 'compressed', 'archived')),
            summary TEXT,
            importance REAL,
            retrieval_count INTEGER NOT NULL DEFAULT 0,
            last_retrieved_at REAL
        );
        CREATE INDEX messages_by_session ON messages(session_id, id);
        CREATE INDEX messages_by_time ON messages(created_at);

        CREATE VIRTUAL TABLE messages_fts USING fts5(
            content, content='messages', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
                VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        """,
    ),
    Migration(
        2,
        "an event log for what happened to the data, and a small key/value table",
        """
        -- What the app did to the user's data and why (recoveries, migrations, backups),
        -- so `doctor` and the dashboard can tell the user.
        CREATE TABLE events(
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            message TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX events_by_kind ON events(kind, at);

        CREATE TABLE meta(
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        3,
        "memory: embeddings, facts, links, summaries, the archive and training examples",
        """
        -- Where a message came from when it was imported from another chat app.
        ALTER TABLE messages ADD COLUMN external_id TEXT;
        ALTER TABLE messages ADD COLUMN speaker TEXT;
        -- When the user brought a compressed or archived message back in full; compaction
        -- leaves such a message alone from then on.
        ALTER TABLE messages ADD COLUMN restored_at REAL;
        CREATE INDEX messages_by_external_id ON messages(external_id)
            WHERE external_id IS NOT NULL;
        CREATE INDEX messages_by_tier ON messages(tier, id);
        -- Retrieval follows a found message to its replies.
        CREATE INDEX messages_by_reply_to ON messages(reply_to) WHERE reply_to IS NOT NULL;

        -- Sentence vectors (all-MiniLM-L6-v2, float16, L2-normalised) of messages, facts and
        -- summaries, written by the index thread; the in-memory index is built from here.
        CREATE TABLE embeddings(
            kind TEXT NOT NULL CHECK (kind IN ('message', 'fact', 'summary')),
            item_id INTEGER NOT NULL,
            model TEXT NOT NULL,
            vector BLOB NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (kind, item_id)
        ) WITHOUT ROWID;

        -- What the user told about themselves and their world. A new value supersedes the
        -- old row (kept, status 'superseded'); at most one active row per subject and key.
        CREATE TABLE facts(
            id INTEGER PRIMARY KEY,
            subject TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            text TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'superseded', 'forgotten')),
            pinned INTEGER NOT NULL DEFAULT 0,
            confidence REAL NOT NULL,
            extractor TEXT NOT NULL,
            source_message_id INTEGER REFERENCES messages(id),
            superseded_by INTEGER REFERENCES facts(id),
            importance REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            retrieval_count INTEGER NOT NULL DEFAULT 0,
            last_retrieved_at REAL
        );
        CREATE UNIQUE INDEX facts_one_active ON facts(subject, key) WHERE status = 'active';
        CREATE INDEX facts_by_source ON facts(source_message_id);
        CREATE VIRTUAL TABLE facts_fts USING fts5(
            text, content='facts', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER facts_fts_insert AFTER INSERT ON facts BEGIN
            INSERT INTO facts_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER facts_fts_delete AFTER DELETE ON facts BEGIN
            INSERT INTO facts_fts(facts_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER facts_fts_update AFTER UPDATE OF text ON facts BEGIN
            INSERT INTO facts_fts(facts_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO facts_fts(rowid, text) VALUES (new.id, new.text);
        END;

        -- What was done to facts by the user (edit, pin, forget). A complete erase removes
        -- the fact's rows here too, at the user's request.
        CREATE TABLE fact_audit(
            id INTEGER PRIMARY KEY,
            fact_id INTEGER NOT NULL,
            action TEXT NOT NULL,
            at REAL NOT NULL,
            detail TEXT
        );
        CREATE INDEX fact_audit_by_fact ON fact_audit(fact_id);

        -- Links between memories, followed one hop by retrieval.
        CREATE TABLE links(
            src_kind TEXT NOT NULL,
            src_id INTEGER NOT NULL,
            relation TEXT NOT NULL
                CHECK (relation IN ('reply_to', 'same_topic', 'fact_source', 'summary_of')),
            dst_kind TEXT NOT NULL,
            dst_id INTEGER NOT NULL,
            weight REAL NOT NULL DEFAULT 1.0,
            created_at REAL NOT NULL,
            PRIMARY KEY (src_kind, src_id, relation, dst_kind, dst_id)
        ) WITHOUT ROWID;
        CREATE INDEX links_by_dst ON links(dst_kind, dst_id);

        -- Summaries of stretches of older conversation; the rolling summary in the context
        -- is the newest ones, and each is searchable.
        CREATE TABLE summaries(
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            first_message_id INTEGER NOT NULL,
            last_message_id INTEGER NOT NULL,
            first_at REAL NOT NULL,
            last_at REAL NOT NULL,
            text TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX summaries_by_span ON summaries(session_id, last_message_id);
        CREATE VIRTUAL TABLE summaries_fts USING fts5(
            text, content='summaries', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER summaries_fts_insert AFTER INSERT ON summaries BEGIN
            INSERT INTO summaries_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER summaries_fts_delete AFTER DELETE ON summaries BEGIN
            INSERT INTO summaries_fts(summaries_fts, rowid, text)
                VALUES ('delete', old.id, old.text);
        END;

        -- The original text of compressed and archived messages, zlib-compressed, with the
        -- SHA-256 of the text. Never deleted; restoring a message moves it back.
        CREATE TABLE message_archive(
            message_id INTEGER PRIMARY KEY REFERENCES messages(id),
            content BLOB NOT NULL,
            sha256 TEXT NOT NULL,
            archived_at REAL NOT NULL
        );
        -- Full-text index of the archived originals; contentless, since the text itself is
        -- stored compressed above.
        CREATE VIRTUAL TABLE message_archive_fts USING fts5(
            content, content='', contentless_delete=1,
            tokenize='unicode61 remove_diacritics 2'
        );

        -- Examples the learner trains on, with where each came from, so that forgetting a
        -- fact removes every example made from it.
        CREATE TABLE training_examples(
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            prompt TEXT NOT NULL,
            target TEXT NOT NULL,
            source_kind TEXT NOT NULL,
            source_id INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX training_examples_by_source ON training_examples(source_kind, source_id);
        """,
    ),
    Migration(
        4,
        "learning: each example's two-tick state and replay priority, and the learning log",
        """
        -- 'new' until the learner first measures the model's loss on it (the surprise);
        -- then 'known' (below the threshold, skipped) or 'replay' (learned, and sampled
        -- again by priority). The rows are the replay buffer's full history on disk.
        ALTER TABLE training_examples ADD COLUMN state TEXT NOT NULL DEFAULT 'new'
            CHECK (state IN ('new', 'known', 'replay'));
        ALTER TABLE training_examples ADD COLUMN surprise REAL;
        ALTER TABLE training_examples ADD COLUMN priority REAL;
        ALTER TABLE training_examples ADD COLUMN last_loss REAL;
        ALTER TABLE training_examples ADD COLUMN times_trained INTEGER NOT NULL DEFAULT 0;
        -- The teacher's topic, for examples written by the Ollama teacher.
        ALTER TABLE training_examples ADD COLUMN topic TEXT;
        CREATE INDEX training_examples_by_state ON training_examples(state, priority);

        -- What the learner did and why: rounds committed or rolled back, checkpoints,
        -- teacher outages. detail is JSON.
        CREATE TABLE learning_events(
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT
        );
        """,
    ),
    Migration(
        5,
        "the thought stream: what the app did in the background and why, bounded",
        """
        -- Mode changes, learning rounds, rollbacks, teacher batches, memory warnings, in
        -- words for the dashboard. Trimmed to the newest rows as it grows (see
        -- store/thoughts.py), so it never grows without bound. Unlike `events` (what
        -- happened to the data, kept), nothing here is needed later.
        CREATE TABLE thoughts(
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL
        );
        """,
    ),
    Migration(
        6,
        "the user's thumbs up or down on replies",
        """
        -- One rating per reply: 1 (good, learned with a higher priority) or -1 (bad, never
        -- learned). Removing a rating deletes its row. No foreign key: an erased message
        -- takes its rating with it in code, and archived messages keep their ids.
        CREATE TABLE reply_ratings(
            message_id INTEGER PRIMARY KEY,
            rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
            at REAL NOT NULL
        );
        """,
    ),
    Migration(
        7,
        "the skill library: requests whose replies worked, and each reuse of them",
        """
        -- A request whose reply the user accepted, kept to be replayed when asked again
        -- or shown to the model as a worked example for a similar request. Pruned skills
        -- are archived (state), never deleted; the user deletes them.
        CREATE TABLE skills(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            intent TEXT NOT NULL,
            request_key TEXT NOT NULL,
            embedding BLOB,
            embedding_model TEXT,
            steps TEXT NOT NULL,
            result TEXT NOT NULL,
            confidence REAL NOT NULL,
            uses INTEGER NOT NULL DEFAULT 0,
            successes INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            pinned INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'archived')),
            source_reply_id INTEGER,
            created_at REAL NOT NULL,
            last_used_at REAL,
            archived_at REAL
        );
        CREATE INDEX skills_by_key ON skills(request_key, state);
        CREATE INDEX skills_by_source ON skills(source_reply_id);

        -- Each reply a skill made (replayed) or helped make (worked example), and whether
        -- the user accepted it; outcome stays NULL until the next turn or a rating says.
        CREATE TABLE skill_uses(
            reply_id INTEGER PRIMARY KEY,
            skill_id INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('replay', 'example')),
            similarity REAL,
            outcome TEXT CHECK (outcome IN ('success', 'failure')),
            at REAL NOT NULL
        );
        CREATE INDEX skill_uses_by_skill ON skill_uses(skill_id);
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
