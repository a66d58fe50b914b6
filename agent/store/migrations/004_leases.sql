-- 004_leases: Leases (coordination.k8s.io/v1, issue 17), namespaced, the
-- same shape as the other kinds' tables. Several stratads sharing this
-- database take, renew and give up host and leader leases here, in one
-- statement each at the database's now() (store_pg_lease.c); the times
-- live in the object (spec.renewTime, RFC 3339 with microseconds), read by
-- that statement, so no column or index is needed: a lease is found by its
-- primary key.
CREATE TABLE leases (
    namespace text NOT NULL,
    name text NOT NULL,
    uid uuid NOT NULL UNIQUE,
    resource_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    object jsonb NOT NULL,
    PRIMARY KEY (namespace, name)
);
