//! Reading a database file from a test: a fingerprint of its stored data, its integrity
//! check and the `dnsbl lookup` output for an address.

use std::path::Path;

use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

use crate::support::binary;

/// Tables left out of the fingerprint: a failed run is recorded in `ingest_runs` on purpose.
const UNFINGERPRINTED: &[&str] = &["ingest_runs"];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(db: &Path) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", db.display()))
}

/// Returns the SHA-256 (hex) of every row of every table except [`UNFINGERPRINTED`], each
/// table's rows sorted and each value in SQL `quote()` form.
pub fn fingerprint(db: &Path) -> String {
    runtime().block_on(async {
        let mut conn = connect(db).await;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let mut hasher = Sha256::new();
        for table in tables {
            if UNFINGERPRINTED.contains(&table.as_str()) {
                continue;
            }
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                    .bind(&table)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            let row_text: Vec<String> = columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
            let query = format!("SELECT {} FROM \"{table}\"", row_text.join(" || '|' || "));
            // The table and column names come from the file's own schema, not from input.
            let mut rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            // Some tables are WITHOUT ROWID, so rows are put in order here.
            rows.sort_unstable();
            hasher.update(format!("{table} {}\n", rows.len()));
            for row in rows {
                hasher.update(row);
                hasher.update("\n");
            }
        }
        conn.close().await.unwrap();
        format!("{:x}", hasher.finalize())
    })
}

/// Returns the output of `PRAGMA integrity_check`: "ok" for a sound file.
pub fn integrity_check(db: &Path) -> String {
    runtime().block_on(async {
        let mut conn = connect(db).await;
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        rows.join("\n")
    })
}

/// Runs `dnsbl lookup QUERY` and returns its standard output; panics when it fails.
pub fn lookup(zones: &Path, db: &Path, query: &str) -> String {
    let output = binary()
        .arg("lookup")
        .arg("--zones")
        .arg(zones)
        .arg("--db")
        .arg(db)
        .arg(query)
        .output()
        .expect("dnsbl lookup runs");
    assert!(output.status.success(), "dnsbl lookup {query}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Returns the number of the root page of the table or index `name` (1 is the first
/// page of the file).
pub fn root_page(db: &Path, name: &str) -> u64 {
    runtime().block_on(async {
        let mut conn = connect(db).await;
        let page: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = ?")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("root page of {name}: {e}"));
        conn.close().await.unwrap();
        page as u64
    })
}

/// Moves every page from the write-ahead log into the database file and returns the
/// file's page size and page count, so a test can damage pages in the file itself.
pub fn checkpoint(db: &Path) -> (u64, u64) {
    runtime().block_on(async {
        let mut conn = SqliteConnectOptions::new()
            .filename(db)
            .connect()
            .await
            .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .unwrap();
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        let count: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        (size as u64, count as u64)
    })
}

/// Returns the number of rows in `table`.
pub fn row_count(db: &Path, table: &str) -> i64 {
    runtime().block_on(async {
        let mut conn = connect(db).await;
        // The table names come from the test itself, not from input.
        let query = format!("SELECT COUNT(*) FROM \"{table}\"");
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("count the rows of {table}: {e}"));
        conn.close().await.unwrap();
        count
    })
}

/// Returns the serial of the listings stored in the `state` row.
pub fn stored_serial(db: &Path) -> i64 {
    runtime().block_on(async {
        let mut conn = connect(db).await;
        let serial: i64 = sqlx::query_scalar("SELECT serial FROM state WHERE id = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("read the serial: {e}"));
        conn.close().await.unwrap();
        serial
    })
}
