-- Clair v2 API (/v1) layers: a client-chosen name, the content digest of its blob (whose
-- results live in `layer`), and the parent chain.
CREATE TABLE v1_layer (
    name    TEXT PRIMARY KEY,
    digest  TEXT NOT NULL,
    parent  TEXT,
    path    TEXT NOT NULL,
    format  TEXT NOT NULL,
    created {int} NOT NULL
);
CREATE INDEX v1_layer_parent ON v1_layer (parent);
