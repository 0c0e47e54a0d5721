-- A batch file's ctime (issue 10): a rewrite in place that restores size and
-- mtime (cp -p, rsync -t --inplace, touch -r) still moves ctime, so a file is
-- fingerprinted again when any of size, mtime, ctime or inode changed. Rows
-- from before have 0, which no file has: each is fingerprinted once more.
ALTER TABLE batches ADD COLUMN ctime_ns bigint NOT NULL DEFAULT 0;
