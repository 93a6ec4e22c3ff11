-- Cedrina schema, version 8: no index on rate_limit_records that misleads
-- the lookup of a key.
--
-- idx_rate_limit_records_algorithm and idx_rate_limit_records_window_start
-- are dropped. Neither narrows a lookup: algorithm has three values, and
-- window_start is shared by every key counting in the current window (a
-- fixed window) or by every key (the epoch, for sliding windows and token
-- buckets). They cost two index writes on every insert, and they are
-- traps for the planner: with statistics from an earlier, smaller table,
-- it served a rate limit check's lookup of one key through one of them,
-- reading every row of the window, and the prepared statement kept that
-- plan; checks ran several times slower as the table grew. Without them,
-- the lookup by (key_hash, algorithm, window_start) has the unique index
-- rate_limit_records_key_hash_algorithm_window_start_key that matches it.
-- window_end keeps its index, which the cleanup walks.
--
-- Down creates the two indexes again, as version 1 did.

-- +goose Up
DROP INDEX IF EXISTS idx_rate_limit_records_algorithm;
DROP INDEX IF EXISTS idx_rate_limit_records_window_start;

-- +goose Down
CREATE INDEX idx_rate_limit_records_window_start ON rate_limit_records (window_start);
CREATE INDEX idx_rate_limit_records_algorithm ON rate_limit_records (algorithm);
