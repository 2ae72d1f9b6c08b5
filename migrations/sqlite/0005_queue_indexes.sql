-- The queue's status answer counts visible (not soft-deleted) items per status and pages them in
-- queue order; adding reads the last position. Partial indexes over visible rows serve these
-- without a full scan or a sort, also with many soft-deleted rows; they replace the old order index.
DROP INDEX IF EXISTS queue_items_order;
CREATE INDEX queue_items_visible_counts ON queue_items(status, deleted_at)
    WHERE deleted_at IS NULL;
CREATE INDEX queue_items_visible_status ON queue_items(status, priority DESC, position, id)
    WHERE deleted_at IS NULL;
CREATE INDEX queue_items_visible_order ON queue_items(priority DESC, position, id)
    WHERE deleted_at IS NULL;
CREATE INDEX queue_items_position ON queue_items(position);
