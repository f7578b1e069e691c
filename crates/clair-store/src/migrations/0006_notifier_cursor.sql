-- The notifier's position per updater: the update operation whose changes were last turned
-- into notifications (Clair v4's notifier receipts), so each operation is processed once,
-- also by a notifier that polls another service's matcher.
CREATE TABLE notifier_cursor (
    updater   TEXT PRIMARY KEY,
    operation TEXT NOT NULL,
    updated   {int} NOT NULL
);
