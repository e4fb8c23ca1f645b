-- sa schema version 2. Released migrations are never edited; add 0003_… instead.
-- An account email names one account for good: every email ever given out is reserved here,
-- and stays reserved after the account is purged (the audit trail still names it). No
-- foreign key, for the same reason. Existing accounts and the `account.create` events of
-- purged ones are entered by the migration step in store/accounts.rs, which also gives a new
-- email to an account that shared one (sa 0.1 reused an email after a rename), then adds
-- the unique index on accounts (org, email).
CREATE TABLE account_emails (
    org         TEXT NOT NULL,
    email       TEXT NOT NULL,
    account_id  INTEGER NOT NULL,
    PRIMARY KEY (org, email)
) STRICT, WITHOUT ROWID;
