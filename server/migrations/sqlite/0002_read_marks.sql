-- How far each side has read: the highest seq the customer has seen, and the
-- highest seq an agent has read. They only grow and never pass last_seq.
ALTER TABLE conversations ADD COLUMN customer_read_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN agent_read_seq INTEGER NOT NULL DEFAULT 0;
