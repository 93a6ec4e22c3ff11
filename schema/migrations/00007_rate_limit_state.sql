-- Cedrina schema, version 7: the state of sliding windows and token
-- buckets in rate_limit_records.
--
-- The original table holds one counter per (key, algorithm, window), which
-- is all a fixed window needs: request_count is the requests admitted in
-- the window [window_start, window_end). An exact sliding window and an
-- exact token bucket need more than a counter, and no original column can
-- hold it exactly:
--
--   - hits, for sliding_window rows: the times of the admitted requests
--     still inside the window, oldest first, in microseconds since the
--     Unix epoch, one element per request (a request of n counts n
--     times). A check admits a request only while fewer than the limit
--     are newer than now minus the window, so it needs every time, not a
--     count; a timestamp array would do, but arithmetic on integers is
--     exact and cheap. The policy bounds its length (at most 100,000
--     elements; 1,000 for a limit of 1,000 per minute).
--   - level, for token_bucket rows: the bucket's level in units of
--     1/W of a token, W being the policy's window in microseconds (full
--     is burst x W), so that refilling limit tokens per window adds an
--     integer (limit per microsecond elapsed) and never rounds. The time
--     of the level's last change is updated_at, which holds microseconds
--     exactly.
--
-- The SDK keeps one row per key for these two algorithms, under the
-- constant window_start 1970-01-01 00:00:00 UTC (the Unix epoch), so the
-- original unique constraint (key_hash, algorithm, window_start) is the
-- key of a single-statement upsert for them as for fixed windows. Their
-- window_end is when the key's state is initial again (its newest hit
-- plus the window; its bucket full again), so that the cleanup of every
-- algorithm is the same DELETE of rows whose window_end has passed,
-- through idx_rate_limit_records_window_end.
--
-- Both columns are nullable without a default: rows written by the
-- original system (which names neither) still insert, fixed window rows
-- leave them NULL, and adding them does not rewrite the table. A NULL
-- hits reads as no admitted request, a NULL level as a full bucket.
--
-- Down drops the two columns. The SDK's sliding window and token bucket
-- rows stay behind, without their state, until a cleanup pass deletes
-- them once their window_end has passed.

-- +goose Up
ALTER TABLE rate_limit_records ADD COLUMN hits BIGINT[];
ALTER TABLE rate_limit_records ADD COLUMN level BIGINT;

-- +goose Down
ALTER TABLE rate_limit_records DROP COLUMN level;
ALTER TABLE rate_limit_records DROP COLUMN hits;
