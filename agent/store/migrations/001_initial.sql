-- 001_initial: the tables of DESIGN.md. Forward-only: never edit a released
-- migration, add the next one. metadata.uid, .resourceVersion and
-- .creationTimestamp live in columns (the store puts them back on read);
-- object holds the rest of the Kubernetes-shaped JSON.
CREATE SEQUENCE strata_resource_version;

CREATE TABLE nodes (
    namespace text NOT NULL DEFAULT '',
    name text NOT NULL,
    uid uuid NOT NULL UNIQUE,
    resource_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    object jsonb NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE deployments (
    namespace text NOT NULL,
    name text NOT NULL,
    uid uuid NOT NULL UNIQUE,
    resource_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    object jsonb NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE pods (
    namespace text NOT NULL,
    name text NOT NULL,
    uid uuid NOT NULL UNIQUE,
    resource_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    object jsonb NOT NULL,
    node_name text,  -- spec.nodeName: the scheduler's and failover's query
    owner text,      -- the controller ownerReference's name (the Deployment)
    PRIMARY KEY (namespace, name)
);
CREATE INDEX pods_node_name ON pods (node_name);
CREATE INDEX pods_owner ON pods (namespace, owner);

-- object has no "data": it is sealed (AES-256-GCM) into strataEncryptedData.
CREATE TABLE secrets (
    namespace text NOT NULL,
    name text NOT NULL,
    uid uuid NOT NULL UNIQUE,
    resource_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    object jsonb NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE events (
    namespace text NOT NULL,
    name text NOT NULL,
    uid uuid NOT NULL UNIQUE,
    resource_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    object jsonb NOT NULL,
    involved_kind text,
    involved_name text,
    PRIMARY KEY (namespace, name)
);
CREATE INDEX events_involved ON events (namespace, involved_kind, involved_name);
CREATE INDEX events_order ON events (resource_version);

-- One row per committed multi-statement transaction, so a COMMIT whose
-- answer was lost with the connection can be checked instead of re-run.
CREATE TABLE strata_txn (
    id uuid PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now()
);
