-- 002_services: Services and their Endpoints (issue 11), the same shape as
-- the tables of 001_initial. Allocations (spec.clusterIP, node ports, the
-- load balancer address) live in the object: the allocator reads them all
-- (a few hundred Services at most), so no column or index is needed yet.
CREATE TABLE services (
    namespace text NOT NULL,
    name text NOT NULL,
    uid uuid NOT NULL UNIQUE,
    resource_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    object jsonb NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE endpoints (
    namespace text NOT NULL,
    name text NOT NULL,
    uid uuid NOT NULL UNIQUE,
    resource_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    object jsonb NOT NULL,
    PRIMARY KEY (namespace, name)
);
