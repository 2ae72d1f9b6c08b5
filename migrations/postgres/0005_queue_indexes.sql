-- Mirrors sqlite/0005: partial indexes over visible queue items.
DROP INDEX IF EXISTS queue_items_order;
CREATE INDEX queue_items_visible_counts ON queue_items(status, deleted_at)
    WHERE deleted_at IS NULL;
CREATE INDEX queue_items_visible_status ON queue_items(status, priority DESC, position, id)
    WHERE deleted_at IS NULL;
CREATE INDEX queue_items_visible_order ON queue_items(priority DESC, position, id)
    WHERE deleted_at IS NULL;
CREATE INDEX queue_items_position ON queue_items(position);
