-- clair-rs schema, version 1, for both backends: `{int}`, `{bytes}`, `{serial}`, `{bool}` and
-- `{false}` are spelt per dialect (src/migrations.rs).
-- Timestamps are microseconds since the Unix epoch ({int}).
-- Documents (layer results, index reports) are zstd-compressed JSON ({bytes}).

CREATE TABLE layer (
    digest  TEXT PRIMARY KEY,
    result  {bytes} NOT NULL,
    created {int} NOT NULL
);

CREATE TABLE manifest (
    digest  TEXT PRIMARY KEY,
    state   TEXT NOT NULL,
    report  {bytes} NOT NULL,
    updated {int} NOT NULL
);

CREATE TABLE manifest_layer (
    manifest TEXT NOT NULL REFERENCES manifest (digest) ON DELETE CASCADE,
    idx      INTEGER NOT NULL,
    layer    TEXT NOT NULL,
    PRIMARY KEY (manifest, idx)
);
CREATE INDEX manifest_layer_layer ON manifest_layer (layer);

CREATE TABLE update_operation (
    seq         {serial},
    id          TEXT NOT NULL UNIQUE,
    updater     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    date        {int} NOT NULL
);
CREATE INDEX update_operation_updater ON update_operation (kind, updater, seq);

CREATE TABLE vuln (
    id           {serial},
    hash         TEXT NOT NULL UNIQUE,
    updater      TEXT NOT NULL,
    name         TEXT NOT NULL,
    namespace    TEXT NOT NULL,
    package_name TEXT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX vuln_package ON vuln (namespace, package_name);

CREATE TABLE uo_vuln (
    uo   {int} NOT NULL REFERENCES update_operation (seq) ON DELETE CASCADE,
    vuln {int} NOT NULL REFERENCES vuln (id),
    PRIMARY KEY (uo, vuln)
);
CREATE INDEX uo_vuln_vuln ON uo_vuln (vuln);

CREATE TABLE enrichment (
    id      {serial},
    hash    TEXT NOT NULL UNIQUE,
    updater TEXT NOT NULL,
    tags    TEXT NOT NULL,
    data    TEXT NOT NULL
);

CREATE TABLE enrichment_tag (
    enrichment {int} NOT NULL REFERENCES enrichment (id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (enrichment, tag)
);
CREATE INDEX enrichment_tag_tag ON enrichment_tag (tag);

CREATE TABLE uo_enrich (
    uo         {int} NOT NULL REFERENCES update_operation (seq) ON DELETE CASCADE,
    enrichment {int} NOT NULL REFERENCES enrichment (id),
    PRIMARY KEY (uo, enrichment)
);
CREATE INDEX uo_enrich_enrichment ON uo_enrich (enrichment);

CREATE TABLE updater_status (
    updater TEXT PRIMARY KEY,
    data    TEXT NOT NULL
);

CREATE TABLE notification (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    body         TEXT NOT NULL,
    created      {int} NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt {int} NOT NULL,
    last_error   TEXT,
    updated      {int} NOT NULL
);
CREATE INDEX notification_due ON notification (status, next_attempt);

CREATE TABLE notification_item (
    notification TEXT NOT NULL REFERENCES notification (id) ON DELETE CASCADE,
    seq          {int} NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (notification, seq)
);
