-- Time-interval models (issue 14): a model's target kept as partitions, one
-- per hour, day, month or year. A row is a partition's state as of its last
-- computation (or attempt); it hangs off its model by name, like model_runs.

CREATE TABLE model_partitions (
  environment   text NOT NULL,
  model         text NOT NULL,
  key           text NOT NULL,        -- "2026-04-07T13", "2026-04-07", "2026-04", "2026"
  -- The window, start included, end excluded. Not landfall_ts: the epoch is a
  -- window bound like any other, not "unknown".
  window_start  timestamptz NOT NULL,
  window_end    timestamptz NOT NULL,
  status        text NOT NULL,        -- computed | failed | in_progress | interrupted
  computed_at   timestamptz,          -- NULL: never computed
  window_closed boolean NOT NULL DEFAULT false,
  row_count     bigint NOT NULL DEFAULT 0,
  checksum      text NOT NULL DEFAULT '',
  duration_us   bigint NOT NULL DEFAULT 0,
  -- The run that last touched it. No foreign key: a partition outlives the
  -- run history's retention (PruneHistory), and then names a pruned run.
  run_id        bigint,
  error         text NOT NULL DEFAULT '',
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (environment, model, key)
);

-- The API's status filter (a model's partitions of one status, by key) and
-- MarkPartitionsInterrupted (an environment's in_progress partitions). The
-- primary key serves the unfiltered and key-range reads.
CREATE INDEX model_partitions_status_idx ON model_partitions (environment, status, model, key);
