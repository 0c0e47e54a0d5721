-- landfall state store, format 1. Every row is scoped by environment; no row
-- of one environment refers to another's. Timestamps are timestamptz; the C++
-- side speaks int64 microseconds since the Unix epoch, converted by the two
-- functions below so every query converts the same way (0 <-> NULL).

CREATE FUNCTION landfall_ts(us bigint) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN us IS NULL OR us = 0 THEN NULL
              ELSE timestamptz 'epoch' + us * interval '1 microsecond' END;

CREATE FUNCTION landfall_us(ts timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN COALESCE((extract(epoch FROM ts) * 1000000)::bigint, 0);

CREATE TABLE environments (
  name                 text PRIMARY KEY,
  state_format_version int NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now()
);

-- A raw table's current state and schema snapshot.
CREATE TABLE tables (
  environment text NOT NULL,
  name        text NOT NULL,
  schema_json jsonb,
  schema_hash text NOT NULL DEFAULT '',
  status      text NOT NULL DEFAULT 'active',
  last_error  text NOT NULL DEFAULT '',
  policy      text NOT NULL DEFAULT 'evolve',
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (environment, name)
);

-- Every distinct snapshot a table has had, appended when its hash changes.
-- Outlives the table's row in `tables`.
CREATE TABLE schema_history (
  id          bigserial PRIMARY KEY,
  environment text NOT NULL,
  table_name  text NOT NULL,
  schema_hash text NOT NULL,
  schema_json jsonb,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schema_history_table_idx ON schema_history (environment, table_name, id);

-- One row per Parquet file found under the landing directory.
CREATE TABLE batches (
  environment   text NOT NULL,
  path          text NOT NULL,
  table_name    text NOT NULL,
  fingerprint   text NOT NULL DEFAULT '',
  size          bigint NOT NULL DEFAULT 0,
  mtime_ns      bigint NOT NULL DEFAULT 0,
  inode         bigint NOT NULL DEFAULT 0,
  rows          bigint NOT NULL DEFAULT 0,
  status        text NOT NULL
                CHECK (status IN ('pending', 'staged', 'quarantined', 'duplicate')),
  error_code    text,
  error_message text,
  schema_json   jsonb,
  duplicate_of  text,
  discovered_at timestamptz NOT NULL DEFAULT now(),
  staged_at     timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (environment, path)
);
CREATE INDEX batches_table_idx ON batches (environment, table_name);

CREATE TABLE runs (
  id          bigserial PRIMARY KEY,
  environment text NOT NULL,
  trigger     text NOT NULL,
  status      text NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  plan        jsonb,
  error       text
);
CREATE INDEX runs_environment_idx ON runs (environment, id DESC);

-- What a run did to each table, and why.
CREATE TABLE table_runs (
  id          bigserial PRIMARY KEY,
  run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  table_name  text NOT NULL,
  action      text NOT NULL,
  reasons     jsonb NOT NULL DEFAULT '[]',
  status      text NOT NULL,
  rows        bigint NOT NULL DEFAULT 0,
  batches     int NOT NULL DEFAULT 0,
  duration_us bigint NOT NULL DEFAULT 0,
  error       text,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX table_runs_run_idx ON table_runs (run_id, id);
