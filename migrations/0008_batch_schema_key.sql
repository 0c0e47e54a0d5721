-- A key for each batch's footer schema (issue 17): most batches share their
-- schema with many others, and loading every batch record with its schema
-- text cost ~100 ms of server time and ~24 MB on the wire at 100,000
-- batches of one schema. Load reads each distinct schema once (one index
-- probe per distinct key) and each batch's key instead of its text. The key
-- is the md5 of the stored jsonb's text, kept by PostgreSQL itself, so no
-- writer can get it wrong; NULL when the schema is.
ALTER TABLE batches
  ADD COLUMN schema_key text GENERATED ALWAYS AS (md5(schema_json::text)) STORED;
CREATE INDEX batches_schema_key_idx ON batches (environment, schema_key);
