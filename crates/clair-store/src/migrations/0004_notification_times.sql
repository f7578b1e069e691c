-- Clair v2 notification times: when a notification was last delivered (`Notified`) and when
-- it was acknowledged (`Deleted`); microseconds since the Unix epoch, NULL until then.
ALTER TABLE notification ADD COLUMN notified {int};
ALTER TABLE notification ADD COLUMN deleted {int};
