-- Messages' global positions come from a counter row instead of the highest
-- position stored plus one: deleting messages (retention) can then never
-- make a position be given out twice, and on PostgreSQL the row's lock,
-- held from the start of an appending transaction to its commit, orders
-- the appenders of every instance, so positions grow in commit order.
CREATE TABLE message_positions (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    last INTEGER NOT NULL
) STRICT;
INSERT INTO message_positions (id, last) SELECT 1, coalesce(max(position), 0) FROM messages;
