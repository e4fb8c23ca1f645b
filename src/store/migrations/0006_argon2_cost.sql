-- sa schema version 6. Released migrations are never edited; add 0007_… instead.

-- The argon2 cost this database's token hashes are made and verified at (issue 12). Every
-- program verifying against the database — `sa token verify`, `$SA_TOKEN`, the library's
-- `Verifier` — uses this one, whatever its own config says, so that two programs never
-- re-hash each other's tokens back and forth. An administrator's write command records the
-- `[argon2]` of its config here (docs/decisions.md). One row at most; none until then.
CREATE TABLE argon2_cost (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    memory_kib  INTEGER NOT NULL CHECK (memory_kib BETWEEN 8 AND 4194304),
    iterations  INTEGER NOT NULL CHECK (iterations BETWEEN 1 AND 100),
    parallelism INTEGER NOT NULL CHECK (parallelism BETWEEN 1 AND 255),
    set_at      TEXT NOT NULL,
    set_by      TEXT NOT NULL
) STRICT;
