-- The local workspace database: run history and model registry. Applied on every connect, so only IF NOT EXISTS.
-- A workspace made by an older version is brought up to date by training/db.py (_migrate) under the same lock.

CREATE TABLE IF NOT EXISTS runs (
    run_id          TEXT PRIMARY KEY,
    experiment      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'killed')),
    params          TEXT NOT NULL DEFAULT '{}',   -- JSON object
    started_at      TEXT NOT NULL,
    ended_at        TEXT,                         -- for 'killed': when the process was found gone
    error           TEXT,
    outputs_dir     TEXT,                         -- absolute path
    log_path        TEXT,                         -- absolute path of the captured stdout + stderr
    pid             INTEGER,                      -- the process running the run (training/processes.py)
    host            TEXT,
    process_started TEXT                          -- '<boot id>/<start ticks>': tells a reused pid apart
);

CREATE TABLE IF NOT EXISTS metrics (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    TEXT NOT NULL REFERENCES runs (run_id),
    name      TEXT NOT NULL,
    value     TEXT NOT NULL,                  -- JSON: a scalar, or an object for tables
    logged_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics (run_id, id);

CREATE TABLE IF NOT EXISTS models (
    name                    TEXT NOT NULL,
    version                 INTEGER NOT NULL CHECK (version >= 1),
    path                    TEXT NOT NULL,    -- relative to the workspace: models/<name>/<version>
    sha256                  TEXT NOT NULL,    -- of model.joblib
    run_id                  TEXT,
    tags                    TEXT NOT NULL DEFAULT '{}',
    properties              TEXT NOT NULL DEFAULT '{}',
    description             TEXT,
    model_framework         TEXT NOT NULL,
    model_framework_version TEXT,
    resource_configuration  TEXT,             -- JSON {"cpu": ..., "memory_in_gb": ...} or NULL
    created_at              TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
