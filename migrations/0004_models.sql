-- The model layer (issue 13): SQL models built from staging tables. Like
-- tables, a model's row is its current state; its run records hang off runs
-- and reach their environment through them.

-- A model's state as of its last action. A row with status 'reset' is the
-- tombstone `landfall state delete --model` leaves: the next run rebuilds it.
CREATE TABLE models (
  environment     text NOT NULL,
  name            text NOT NULL,
  strategy        text NOT NULL DEFAULT '',
  sql_hash        text NOT NULL DEFAULT '',
  config_hash     text NOT NULL DEFAULT '',
  columns         jsonb,           -- the target's columns (schema JSON); NULL when unknown
  watermark       text NOT NULL DEFAULT '',
  applied_batches bigint NOT NULL DEFAULT 0,
  strategy_state  jsonb,           -- whatever else a strategy keeps; NULL when none
  status          text NOT NULL DEFAULT 'active',
  last_error      text NOT NULL DEFAULT '',
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (environment, name)
);

-- What a run did to each model, and why.
CREATE TABLE model_runs (
  id            bigserial PRIMARY KEY,
  run_id        bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  model_name    text NOT NULL,
  action        text NOT NULL,
  reasons       jsonb NOT NULL DEFAULT '[]',
  status        text NOT NULL,
  rows_inserted bigint NOT NULL DEFAULT 0,
  rows_updated  bigint NOT NULL DEFAULT 0,
  rows_deleted  bigint NOT NULL DEFAULT 0,
  duration_us   bigint NOT NULL DEFAULT 0,
  error         text,
  recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_runs_run_idx ON model_runs (run_id, id);
CREATE INDEX model_runs_model_idx ON model_runs (model_name, id DESC);

-- The model DAG (nodes and edges) as a run saw it, stored only when it
-- differs from the environment's newest snapshot (dag_hash: sha-256 of the
-- jsonb text).
CREATE TABLE dag_snapshots (
  id          bigserial PRIMARY KEY,
  environment text NOT NULL,
  run_id      bigint REFERENCES runs (id) ON DELETE SET NULL,
  dag_hash    text NOT NULL,
  dag         jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dag_snapshots_environment_idx ON dag_snapshots (environment, id DESC);
CREATE INDEX dag_snapshots_run_idx ON dag_snapshots (run_id);
