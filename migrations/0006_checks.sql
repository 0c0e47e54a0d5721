-- Data checks (issue 15): every result of every model check, kept as the
-- check history. A result hangs off its run and reaches its environment
-- through it; pruning a run (PruneHistory) takes its results with it.
CREATE TABLE check_results (
  id          bigserial PRIMARY KEY,
  run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  model_name  text NOT NULL,
  check_name  text NOT NULL,       -- "not_null(id)", "row_count", "row_count_anomaly"
  severity    text NOT NULL,       -- error | warn
  passed      boolean NOT NULL,
  observed    double precision,    -- NULL when the check observed nothing (freshness of no rows)
  detail      text NOT NULL DEFAULT '',
  checked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX check_results_model_idx ON check_results (model_name, check_name, id DESC);
CREATE INDEX check_results_run_idx ON check_results (run_id);
