"""The review store's tables, as a list of forward migrations.

``PRAGMA user_version`` holds how many of :data:`MIGRATIONS` a database has had. A database
opened by this version gets the missing ones in order, each in its own transaction, so one
that an older anomaly-tui wrote keeps its runs and verdicts. A migration, once released, is
never edited: a change is a new entry at the end.
"""

from __future__ import annotations

#: Each entry takes a database from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[str, ...] = (
    # 1: runs, the anomalies each one found, verdicts.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL,
        origin TEXT NOT NULL,
        file_name TEXT NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        sheet TEXT,
        model_key TEXT,
        model_kind TEXT,
        threshold REAL,
        threshold_percentile REAL,
        created TEXT NOT NULL,
        rows INTEGER NOT NULL,
        anomaly_count INTEGER NOT NULL,
        fingerprint_column TEXT,
        tool_version TEXT
    );
    CREATE INDEX runs_by_dataset ON runs (dataset, id);
    CREATE TABLE run_anomalies (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        row_index INTEGER NOT NULL,
        excel_row INTEGER,
        fingerprint TEXT NOT NULL,
        score REAL NOT NULL,
        top_features TEXT NOT NULL,
        PRIMARY KEY (run_id, rank)
    ) WITHOUT ROWID;
    CREATE INDEX run_anomalies_by_fingerprint ON run_anomalies (fingerprint);
    CREATE TABLE verdicts (
        id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        content TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'dismissed', 'expected', 'cleared')),
        note TEXT,
        created TEXT NOT NULL,
        file_name TEXT,
        row_index INTEGER
    );
    CREATE INDEX verdicts_by_row ON verdicts (dataset, fingerprint, id);
    CREATE INDEX verdicts_by_content ON verdicts (dataset, content, id);
    """,
    # 2: suppression scopes ("every row where merchant = X", "this customer until a date").
    """
    CREATE TABLE suppressions (
        id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL,
        column_name TEXT NOT NULL,
        value TEXT NOT NULL,
        until TEXT,
        verdict_id INTEGER NOT NULL REFERENCES verdicts (id),
        created TEXT NOT NULL,
        lifted TEXT
    );
    CREATE INDEX suppressions_by_dataset ON suppressions (dataset, id);
    """,
    # 3: a language model's triage suggestions, so that reopening a file does not ask again.
    # ``content`` is the row's content hash when asked: a row found by its identifier whose
    # cells changed since is asked afresh.
    """
    CREATE TABLE triage_answers (
        dataset TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_version INTEGER NOT NULL,
        content TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('likely_benign', 'suspicious', 'needs_review')),
        rationale TEXT NOT NULL,
        next_step TEXT,
        reason TEXT,
        created TEXT NOT NULL,
        PRIMARY KEY (dataset, fingerprint, model, prompt_version)
    ) WITHOUT ROWID;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
