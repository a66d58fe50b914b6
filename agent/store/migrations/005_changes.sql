-- 005_changes: the change feed several stratad on one PostgreSQL tail
-- (issue 17). Every write transaction records here, before it commits,
-- each change it made, as the writer's own watch hook is handed it (type,
-- object with metadata stamped; a Secret sealed as in its table, never
-- plain). Writers hold pg_advisory_xact_lock(ST_PG_CHANGES_LOCK) from
-- before their first resourceVersion to their commit, so rows become
-- visible in rv order: a reader that sees rv N sees every rv < N that will
-- ever commit. pg_notify('strata_changes', rv) wakes the tails.
CREATE TABLE strata_changes (
    rv bigint PRIMARY KEY,
    type text NOT NULL CHECK (type IN ('ADDED', 'MODIFIED', 'DELETED')),
    kind text NOT NULL,
    namespace text NOT NULL DEFAULT '',
    name text NOT NULL,
    object jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX strata_changes_at ON strata_changes (at);
-- One row: every change up to rv was trimmed away, so a reader that
-- resumes from an older rv learns it missed some (st_store_changes_since:
-- -ERANGE) instead of seeing a silent gap.
CREATE TABLE strata_changes_floor (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    rv bigint NOT NULL
);
INSERT INTO strata_changes_floor (rv) VALUES (0);
