-- Indexes for the HTTP API's reads (issue 5): a table's run records newest
-- first (GET /v1/tables, /v1/tables/{name}), batches by status (the
-- quarantine list) and runs by status.
CREATE INDEX table_runs_table_idx ON table_runs (table_name, id DESC);
CREATE INDEX batches_status_idx ON batches (environment, status, path);
CREATE INDEX runs_status_idx ON runs (environment, status, id DESC);
