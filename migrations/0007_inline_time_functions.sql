-- landfall_ts and landfall_us (0001) are STABLE, not IMMUTABLE (issue 17):
-- their bodies use timestamptz arithmetic, which PostgreSQL marks STABLE, and
-- it inlines an IMMUTABLE function only when its body is immutable too. Not
-- inlined, every converted value was a function call: loading 100,000 batch
-- records spent ~110 ms of server time on their two timestamps (with
-- parallel workers), ~35 ms inlined. Same bodies, same results.

CREATE OR REPLACE FUNCTION landfall_ts(us bigint) RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN CASE WHEN us IS NULL OR us = 0 THEN NULL
              ELSE timestamptz 'epoch' + us * interval '1 microsecond' END;

CREATE OR REPLACE FUNCTION landfall_us(ts timestamptz) RETURNS bigint
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN COALESCE((extract(epoch FROM ts) * 1000000)::bigint, 0);
