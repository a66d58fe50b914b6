-- 003_namespaces: Namespaces (issue 13), cluster-scoped as nodes are
-- (namespace ''), the same shape as the other kinds' tables. The server
-- creates "default", "kube-system", "kube-public" and "kube-node-lease"
-- when they are missing, so nothing is inserted here.
CREATE TABLE namespaces (
    namespace text NOT NULL DEFAULT '',
    name text NOT NULL,
    uid uuid NOT NULL UNIQUE,
    resource_version bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    object jsonb NOT NULL,
    PRIMARY KEY (namespace, name)
);
