-- Several instances share one queue: a downloading item is held by one instance (`lease_owner`,
-- a random id per process) until `lease_until` (unix seconds), renewed while it downloads. An
-- item whose lease ran out is taken over by another instance.
ALTER TABLE queue_items ADD COLUMN lease_owner TEXT;
ALTER TABLE queue_items ADD COLUMN lease_until INTEGER;
