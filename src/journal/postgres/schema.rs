//! The store's tables, versioned: every migration to the schema this rollgate writes, applied
//! on first use, one migrator at a time; a newer schema is refused.

use super::connection::said;
use postgres::Client;

/// The schema this rollgate writes, and every migration to it, in order.
const MIGRATIONS: [&str; 3] = [
    r#"
CREATE TABLE rollgate_runs (
    run_id text PRIMARY KEY,
    header text NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE rollgate_events (
    run_id text NOT NULL REFERENCES rollgate_runs ON DELETE CASCADE,
    seq bigint NOT NULL,
    event text NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE rollgate_decisions (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL REFERENCES rollgate_runs ON DELETE CASCADE,
    decision text NOT NULL,
    used boolean NOT NULL DEFAULT false
);
CREATE TABLE rollgate_locks (
    grp text PRIMARY KEY,
    run_id text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL
);
"#,
    r#"
ALTER TABLE rollgate_runs
    ADD COLUMN fence bigint NOT NULL DEFAULT 0,
    ADD COLUMN lease_until timestamptz;
"#,
    // A lock names the fence of the process that holds it, so only that process frees it.
    r#"
ALTER TABLE rollgate_locks ADD COLUMN fence bigint NOT NULL DEFAULT 0;
"#,
];

/// Brings the schema to this rollgate's version, one migrator at a time; refuses a newer one.
pub(super) fn migrate(client: &mut Client, shown: &str) -> Result<(), String> {
    let fail = |e: postgres::Error| format!("{shown}: {}", said(&e));
    let mut tx = client.transaction().map_err(fail)?;
    // Two first uses at once would race creating the table itself: an advisory lock, held to
    // the transaction's end, makes them take turns.
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(hashtext('rollgate_schema'));
         CREATE TABLE IF NOT EXISTS rollgate_schema (version integer NOT NULL);",
    )
    .map_err(fail)?;
    let version: i32 = tx
        .query_opt("SELECT max(version) FROM rollgate_schema", &[])
        .map_err(fail)?
        .and_then(|r| r.get::<_, Option<i32>>(0))
        .unwrap_or(0);
    let knows = MIGRATIONS.len() as i32;
    if version > knows {
        return Err(format!("{shown} holds rollgate's schema version {version}, made by a newer rollgate; this one knows up to version {knows}: use the newer rollgate"));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO rollgate_schema (version) VALUES ($1)",
            &[&(i as i32 + 1)],
        )
        .map_err(fail)?;
    }
    tx.commit().map_err(fail)
}
