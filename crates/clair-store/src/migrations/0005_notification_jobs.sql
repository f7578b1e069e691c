-- Notifications as durable work: storing a vulnerability update operation enqueues the
-- computation of its notifications in the same transaction; the job row is deleted in the
-- transaction that stores them. `prev` is the id of the updater's operation before it (NULL:
-- its first).
CREATE TABLE notification_job (
    uo      {int} PRIMARY KEY REFERENCES update_operation (seq) ON DELETE CASCADE,
    prev    TEXT,
    created {int} NOT NULL
);

-- Reverse index for Clair v2 notifications: the package names each v1 layer's own scan found
-- (spelled as manifest_package's), so an update stacks only the layers it may affect.
-- `packages_indexed` is false for layers stored before the index existed (filled in later).
CREATE TABLE v1_layer_package (
    layer TEXT NOT NULL REFERENCES v1_layer (name) ON DELETE CASCADE,
    name  TEXT NOT NULL,
    PRIMARY KEY (layer, name)
);
CREATE INDEX v1_layer_package_name ON v1_layer_package (name);
ALTER TABLE v1_layer ADD COLUMN packages_indexed {bool} NOT NULL DEFAULT {false};

-- Due notifications are looked up per kind (each sender reads only its own).
CREATE INDEX notification_kind_due ON notification (kind, status, next_attempt);
