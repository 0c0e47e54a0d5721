-- Several daemons on one environment (issue 16; README "Running a cluster").
-- Each daemon is a member with a heartbeat; each table is worked on by the
-- member holding its lease. Every time here is the database's clock (now()),
-- never a daemon's, so the daemons' clocks may disagree.
CREATE TABLE cluster_members (
  environment  text NOT NULL,
  node         text NOT NULL,          -- "<host>/<pid>/<start µs>": one per process
  host         text NOT NULL,
  pid          integer NOT NULL,
  api          text NOT NULL DEFAULT '',  -- the daemon's API address, "" when none
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  left_at      timestamptz,            -- a clean stop; NULL while it runs (or after a crash)
  PRIMARY KEY (environment, node)
);

-- A table's lease: held by `owner` until `expires_at` unless renewed. A
-- lease past its expiry is free for any member to claim.
CREATE TABLE leases (
  environment text NOT NULL,
  table_name  text NOT NULL,
  owner       text NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (environment, table_name)
);
CREATE INDEX leases_owner_idx ON leases (environment, owner);

-- Every change of hands, for operators and for the cluster test's check
-- that no table was held by two members at once.
CREATE TABLE lease_history (
  id          bigserial PRIMARY KEY,
  environment text NOT NULL,
  table_name  text NOT NULL,
  owner       text NOT NULL,
  event       text NOT NULL,  -- acquired | released | lost
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- acquired: until when the previous holder's lease ran (NULL: never held)
  previous_owner   text,
  previous_expiry  timestamptz
);
CREATE INDEX lease_history_idx ON lease_history (environment, table_name, id);

-- Which member started a run, so that a member starting up marks only the
-- runs of members that are gone as interrupted, not a live member's.
ALTER TABLE runs ADD COLUMN node text;
