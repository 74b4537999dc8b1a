//! Integration tests of the store against real SQLite files in a temporary directory.

use std::path::Path;

use dnsbl_config::{Register, ZonesDir};
use dnsbl_core::ListingSource;
use dnsbl_store::{ChangeCounts, REMOVED_REASON, Store, StoreError};
use sqlx::Row;

const ZONES: &str = "[[zone]]\nname = \"bl.example\"\nkind = \"address\"\n\
                     [[zone]]\nname = \"dbl.example\"\nkind = \"domain\"\n";

const CATEGORY: &str =
    "[[category]]\nname = \"bad\"\ncode = \"127.0.0.2\"\ntxt = \"{provider} ({source})\"\n";

/// Parses a register.toml text through dnsbl-config, as the server does.
fn register(dir: &Path, text: &str) -> ZonesDir {
    std::fs::write(dir.join("zones.toml"), ZONES).unwrap();
    std::fs::write(dir.join("register.toml"), text).unwrap();
    ZonesDir::load(dir).unwrap()
}

fn provider(name: &str, extra: &str) -> String {
    format!("[[provider]]\nname = \"{name}\"\ncategory = \"bad\"\n{extra}\n")
}

fn bundled_register() -> Register {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../zones");
    ZonesDir::load(&root).unwrap().register
}

struct ProviderRow {
    delisted_at: Option<String>,
    delist_reason: Option<String>,
    source: String,
}

async fn provider_row(store: &Store, name: &str) -> Option<ProviderRow> {
    let row =
        sqlx::query("SELECT delisted_at, delist_reason, source FROM providers WHERE name = ?")
            .bind(name)
            .fetch_optional(store.pool())
            .await
            .unwrap()?;
    Some(ProviderRow {
        delisted_at: row.get("delisted_at"),
        delist_reason: row.get("delist_reason"),
        source: row.get("source"),
    })
}

fn today() -> String {
    let date = time::OffsetDateTime::now_utc().date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[tokio::test]
async fn open_creates_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/dnsbl.db");
    let store = Store::open(&path).await.unwrap();
    assert!(path.exists());
    assert_eq!(store.serial().await.unwrap(), 1);
    assert!(!store.has_routing_data().await.unwrap());
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    store.pool().close().await;

    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.serial().await.unwrap(), 1);
}

#[tokio::test]
async fn open_rejects_non_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "this is a text file, not a database\n".repeat(200)).unwrap();
    let error = Store::open(&path).await.unwrap_err();
    assert!(
        matches!(error, StoreError::NotADatabase { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn open_rejects_foreign_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let error = Store::open(&path).await.unwrap_err();
    assert!(
        matches!(error, StoreError::ForeignSchema { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("invoices"), "{message}");
}

#[tokio::test]
async fn sync_bundled_register() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    let register = bundled_register();

    let changes = store.sync_register(&register).await.unwrap();
    assert!(changes.changed);
    assert!(changes.ranges_changed);
    assert_eq!(changes.categories.added, 3);
    assert_eq!(changes.operators.added, 1);
    assert_eq!(changes.providers.added, register.providers.len());
    let serial = store.serial().await.unwrap();
    assert!(serial > 1, "serial {serial}");

    let again = store.sync_register(&register).await.unwrap();
    assert!(!again.changed, "{again:?}");
    assert_eq!(store.serial().await.unwrap(), serial);

    let aliases: i64 = sqlx::query_scalar("SELECT count(*) FROM operator_aliases")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(aliases, 4);
    let asns: Vec<i64> = sqlx::query_scalar(
        "SELECT asn FROM provider_asns JOIN providers ON providers.id = provider_id
         WHERE name = 'Internet Names for Business' ORDER BY asn",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(asns, [14116, 30447]);
}

#[tokio::test]
async fn removed_provider_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    let both = format!(
        "{CATEGORY}{}{}",
        provider("Kept", "asns = [64496]"),
        provider("Dropped", "asns = [64497]\ndomains = [\"dropped.example\"]")
    );
    store
        .sync_register(&register(dir.path(), &both).register)
        .await
        .unwrap();
    let serial = store.serial().await.unwrap();

    let kept_only = format!("{CATEGORY}{}", provider("Kept", "asns = [64496]"));
    let changes = store
        .sync_register(&register(dir.path(), &kept_only).register)
        .await
        .unwrap();
    assert_eq!(
        changes.providers,
        ChangeCounts {
            added: 0,
            updated: 0,
            removed: 1
        }
    );
    assert!(changes.ranges_changed);
    assert!(store.serial().await.unwrap() > serial);

    let dropped = provider_row(&store, "Dropped").await.expect("row is kept");
    assert_eq!(dropped.delisted_at, Some(today()));
    assert_eq!(dropped.delist_reason.as_deref(), Some(REMOVED_REASON));
    assert_eq!(dropped.source, "file");
    let domains: i64 = sqlx::query_scalar("SELECT count(*) FROM provider_domains")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(domains, 1, "the delisted provider keeps its domains");

    // An earlier delisting keeps its date and reason on the next sync.
    sqlx::query("UPDATE providers SET delisted_at = '2020-01-01' WHERE name = 'Dropped'")
        .execute(store.pool())
        .await
        .unwrap();
    let changes = store
        .sync_register(&register(dir.path(), &kept_only).register)
        .await
        .unwrap();
    assert!(!changes.changed, "{changes:?}");
    let dropped = provider_row(&store, "Dropped").await.unwrap();
    assert_eq!(dropped.delisted_at.as_deref(), Some("2020-01-01"));

    // Back in the file: listed again.
    let changes = store
        .sync_register(&register(dir.path(), &both).register)
        .await
        .unwrap();
    assert_eq!(changes.providers.updated, 1);
    let dropped = provider_row(&store, "Dropped").await.unwrap();
    assert_eq!(dropped.delisted_at, None);
    assert_eq!(dropped.delist_reason, None);
}

#[tokio::test]
async fn delisting_in_file_sets_date_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    let listed = format!("{CATEGORY}{}", provider("P", "asns = [64496]"));
    store
        .sync_register(&register(dir.path(), &listed).register)
        .await
        .unwrap();
    let delisted = format!(
        "{CATEGORY}{}",
        provider(
            "P",
            "asns = [64496]\ndelisted = { date = \"2026-01-02\", reason = \"cleaned up\" }"
        )
    );
    let changes = store
        .sync_register(&register(dir.path(), &delisted).register)
        .await
        .unwrap();
    assert_eq!(changes.providers.removed, 1);
    assert!(changes.ranges_changed);
    let row = provider_row(&store, "P").await.unwrap();
    assert_eq!(row.delisted_at.as_deref(), Some("2026-01-02"));
    assert_eq!(row.delist_reason.as_deref(), Some("cleaned up"));
}

#[tokio::test]
async fn api_rows_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    let text = format!("{CATEGORY}{}", provider("From file", ""));
    store
        .sync_register(&register(dir.path(), &text).register)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO providers (name, category_id, source)
         SELECT 'From API', id, 'api' FROM categories WHERE name = 'bad'",
    )
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO allow_entries (value, kind, reason, source) VALUES ('api.example', 'domain', 'r', 'api')",
    )
    .execute(store.pool())
    .await
    .unwrap();

    let changes = store
        .sync_register(&register(dir.path(), &text).register)
        .await
        .unwrap();
    assert!(!changes.changed, "{changes:?}");
    let api = provider_row(&store, "From API").await.unwrap();
    assert_eq!(api.delisted_at, None);
    let allow: i64 = sqlx::query_scalar("SELECT count(*) FROM allow_entries WHERE source = 'api'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(allow, 1);

    let clash = format!("{CATEGORY}{}", provider("From API", ""));
    let error = store
        .sync_register(&register(dir.path(), &clash).register)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::SourceConflict { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("\"From API\""), "{error}");
    let file = provider_row(&store, "From file").await.unwrap();
    assert_eq!(file.delisted_at, None, "the failed sync was rolled back");
}

#[tokio::test]
async fn allow_entries_sync_declaratively() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    let allow = |value: &str, reason: &str| {
        format!("[[allow]]\nvalue = \"{value}\"\nreason = \"{reason}\"\n")
    };
    let first = format!(
        "{CATEGORY}{}{}",
        allow("192.0.2.0/28", "a"),
        allow("ok.example", "b")
    );
    let changes = store
        .sync_register(&register(dir.path(), &first).register)
        .await
        .unwrap();
    assert_eq!(changes.allow.added, 2);

    let second = format!("{CATEGORY}{}", allow("192.0.2.0/28", "changed"));
    let changes = store
        .sync_register(&register(dir.path(), &second).register)
        .await
        .unwrap();
    assert_eq!(
        changes.allow,
        ChangeCounts {
            added: 0,
            updated: 1,
            removed: 1
        }
    );
    // A changed reason or a removed domain does not change any listed range.
    assert!(!changes.ranges_changed);
    let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM allow_entries")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(reasons, ["changed"]);
}

#[tokio::test]
async fn snapshot_lists_domains_and_allows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    let text = format!(
        "{CATEGORY}[[operator]]\nname = \"Op\"\n{}{}\
         [[allow]]\nvalue = \"mail.listed.example\"\nreason = \"r\"\nzone = \"dbl.example\"\n",
        provider(
            "P",
            "operator = \"Op\"\nlisted_since = \"2026-01-01\"\ndomains = [\"listed.example\"]"
        ),
        provider(
            "Gone",
            "domains = [\"gone.example\"]\ndelisted = { date = \"2026-01-02\", reason = \"r\" }"
        ),
    );
    let zones = register(dir.path(), &text);
    store.sync_register(&zones.register).await.unwrap();

    let snapshot = store.load_snapshot(&zones.zones).await.unwrap();
    assert_eq!(snapshot.serial, store.serial().await.unwrap());
    let dbl = snapshot
        .zones
        .iter()
        .find(|z| z.spec.name == "dbl.example")
        .unwrap();
    let ids = dbl.domains.get("listed.example").expect("domain listed");
    assert_eq!(ids.len(), 1);
    let listing = snapshot.listings.listing(ids[0]).to_listing();
    assert_eq!(listing.provider, "P");
    assert_eq!(listing.operator.as_deref(), Some("Op"));
    assert_eq!(listing.listed_since.as_deref(), Some("2026-01-01"));
    assert_eq!(
        listing.source,
        ListingSource::Domain("listed.example".into())
    );
    assert_eq!(snapshot.categories[listing.category].name, "bad");
    assert!(
        !dbl.domains.contains_key("gone.example"),
        "delisted provider"
    );
    assert!(dbl.excluded_domains.contains("mail.listed.example"));
}

#[tokio::test]
async fn read_only_check_finds_api_name_in_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let store = Store::open(&db).await.unwrap();
    let audit = dnsbl_store::AuditContext {
        token_name: "test".into(),
        method: "POST".into(),
        path: "/v1/operators".into(),
    };
    let operator = dnsbl_store::NewOperator {
        name: "Example Group".into(),
        note: None,
        aliases: Vec::new(),
    };
    store.create_operator(&audit, &operator).await.unwrap();
    drop(store);

    let clean = register(dir.path(), CATEGORY);
    let clashing = register(
        dir.path(),
        &format!("{CATEGORY}[[operator]]\nname = \"Example Group\"\n"),
    );
    let read_only = Store::open_read_only(&db).await.unwrap();
    read_only
        .check_register_sources(&clean.register)
        .await
        .expect("no clash without the operator");
    let error = read_only
        .check_register_sources(&clashing.register)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::SourceConflict { kind: "operator", name } if name == "Example Group"),
        "{error}"
    );
}

#[tokio::test]
async fn api_categories_survive_sync() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    let text = format!("{CATEGORY}{}", provider("From file", ""));
    store
        .sync_register(&register(dir.path(), &text).register)
        .await
        .unwrap();
    let context = dnsbl_store::AuditContext {
        token_name: "ops".into(),
        method: "POST".into(),
        path: "/v1/categories".into(),
    };
    let relay = dnsbl_store::NewCategory {
        name: "relay".into(),
        code: [127, 0, 0, 9].into(),
        txt: "{query}".into(),
    };
    store.create_category(&context, &relay).await.unwrap();
    let duplicate = store.create_category(&context, &relay).await.unwrap_err();
    assert!(
        matches!(duplicate, StoreError::Conflict { .. }),
        "{duplicate:?}"
    );
    let file_sourced = dnsbl_store::NewCategory {
        name: "bad".into(),
        ..relay.clone()
    };
    let read_only = store
        .update_category(&context, &file_sourced)
        .await
        .unwrap_err();
    assert!(
        matches!(read_only, StoreError::ReadOnly { .. }),
        "{read_only:?}"
    );

    // A sync without the category in the file keeps it, because it came from the API.
    let changes = store
        .sync_register(&register(dir.path(), &text).register)
        .await
        .unwrap();
    assert!(!changes.changed, "{changes:?}");
    let stored = store.get_category("relay").await.unwrap();
    assert_eq!(stored.code, "127.0.0.9");
    assert_eq!(stored.source, "api");

    let clash = format!(
        "{CATEGORY}[[category]]\nname = \"relay\"\ncode = \"127.0.0.3\"\ntxt = \"\"\n{}",
        provider("From file", "")
    );
    let error = store
        .sync_register(&register(dir.path(), &clash).register)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::SourceConflict { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("category \"relay\""), "{error}");
    assert_eq!(store.get_category("relay").await.unwrap().code, "127.0.0.9");
}

#[tokio::test]
async fn started_run_completes_or_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    let sources = vec![std::path::PathBuf::from("http://127.0.0.1:1/asn.csv")];
    let id = store
        .start_run(dnsbl_store::RunKind::Ingest, &sources)
        .await
        .unwrap();
    let running = store.get_run(id).await.unwrap();
    assert_eq!(running.status, "running");
    assert_eq!(running.finished_at, None);
    assert_eq!(running.sources, ["http://127.0.0.1:1/asn.csv"]);

    let now = std::time::SystemTime::now();
    let finished = dnsbl_store::RunRecord {
        id: Some(id),
        kind: dnsbl_store::RunKind::Ingest,
        started_at: now,
        finished_at: now,
        sources: sources.clone(),
        rows_v4: 2,
        rows_v6: 0,
        providers_expanded: 1,
        ranges_v4: 1,
        ranges_v6: 0,
        addresses_v4: 256,
        addresses_v6: 0,
        seconds: 0.5,
        bytes_downloaded: 4096,
        error: None,
    };
    assert_eq!(running.bytes_downloaded, 0);
    store.record_run(&finished).await.unwrap();
    let done = store.get_run(id).await.unwrap();
    assert_eq!(done.status, "ok");
    assert_eq!(done.bytes_downloaded, 4096);
    assert_eq!(done.rows_v4, 2);
    assert_eq!(done.addresses_v4, "256");
    assert!(done.finished_at.is_some());

    let abandoned = store
        .start_run(dnsbl_store::RunKind::Ingest, &sources)
        .await
        .unwrap();
    assert_eq!(store.fail_unfinished_runs("interrupted").await.unwrap(), 1);
    let failed = store.get_run(abandoned).await.unwrap();
    assert_eq!(failed.status, "failed");
    assert_eq!(failed.error.as_deref(), Some("interrupted"));
    assert_eq!(store.get_run(id).await.unwrap().status, "ok");
    let listed: Vec<i64> = store
        .list_runs(10, 0)
        .await
        .unwrap()
        .iter()
        .map(|run| run.id)
        .collect();
    assert_eq!(listed, [abandoned, id]);
    assert!(matches!(
        store.get_run(999).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
}

fn allow_domain(domain: &str) -> dnsbl_config::AllowEntry {
    dnsbl_config::AllowEntry {
        target: dnsbl_config::AllowTarget::Domain(domain.to_owned()),
        reason: "test".to_owned(),
        zone: None,
    }
}

fn test_audit() -> dnsbl_store::AuditContext {
    dnsbl_store::AuditContext {
        token_name: "test".to_owned(),
        method: "POST".to_owned(),
        path: "/v1/allow".to_owned(),
    }
}

#[tokio::test]
async fn allow_ids_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("dnsbl.db")).await.unwrap();
    let audit = test_audit();
    let mut ids = Vec::new();
    for index in 1..=8 {
        let domain = format!("a{index}.example");
        let record = store
            .create_allow_entry(&audit, &allow_domain(&domain))
            .await
            .unwrap();
        ids.push(record.id);
    }
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 8]);
    for id in ids {
        store.delete_allow_entry(&audit, id).await.unwrap();
    }

    let record = store
        .create_allow_entry(&audit, &allow_domain("new.example"))
        .await
        .unwrap();
    assert_eq!(record.id, 9);
    let stale = store.delete_allow_entry(&audit, 1).await.unwrap_err();
    assert!(matches!(stale, StoreError::NotFound { .. }), "{stale:?}");
    let page = store.list_allow_entries(10, 0).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].value, "new.example");
}

/// Opens `path` as the database of a release whose newest migration is 0007, before
/// allow-list ids used AUTOINCREMENT.
async fn schema_0007_pool(path: &Path) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate!("../../migrations")
        .run_to(7, &pool)
        .await
        .unwrap();
    pool
}

#[tokio::test]
async fn allow_migration_keeps_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dnsbl.db");
    let pool = schema_0007_pool(&path).await;
    for (id, value, source) in [
        (3, "file.example", "file"),
        (5, "api.example", "api"),
        (9, "other.example", "api"),
    ] {
        sqlx::query(
            "INSERT INTO allow_entries (id, value, kind, reason, source) VALUES (?, ?, 'domain', 'r', ?)",
        )
        .bind(id)
        .bind(value)
        .bind(source)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO allow_entries (id, value, kind, family, start_addr, end_addr, reason, zone, source)
         VALUES (7, '192.0.2.0/24', 'range', 4, zeroblob(16), zeroblob(16), 'r', 'bl.example', 'api')",
    )
    .execute(&pool)
    .await
    .unwrap();
    // Entry 12 was created and deleted through the API, so only the audit log records it.
    sqlx::query(
        "INSERT INTO audit_log (token_name, at, method, path, change) VALUES
         ('t', '2026-01-01T00:00:00Z', 'POST', '/v1/allow', '{\"created\":{\"id\":12}}'),
         ('t', '2026-01-01T00:00:01Z', 'DELETE', '/v1/allow/12', '{\"deleted\":{\"id\":12}}'),
         ('t', '2026-01-01T00:00:02Z', 'POST', '/v1/providers', '{\"created\":{\"id\":40}}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = Store::open(&path).await.unwrap();
    let rows: Vec<(i64, String, Option<String>, String)> =
        sqlx::query_as("SELECT id, value, zone, source FROM allow_entries ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let expected = [
        (3, "file.example", None, "file"),
        (5, "api.example", None, "api"),
        (7, "192.0.2.0/24", Some("bl.example"), "api"),
        (9, "other.example", None, "api"),
    ];
    let expected: Vec<(i64, String, Option<String>, String)> = expected
        .iter()
        .map(|(id, value, zone, source)| {
            (
                *id,
                (*value).to_owned(),
                zone.map(str::to_owned),
                (*source).to_owned(),
            )
        })
        .collect();
    assert_eq!(rows, expected);

    let record = store
        .create_allow_entry(&test_audit(), &allow_domain("next.example"))
        .await
        .unwrap();
    assert_eq!(record.id, 13);

    let duplicate = sqlx::query(
        "INSERT INTO allow_entries (value, kind, reason, source) VALUES ('api.example', 'domain', 'r', 'api')",
    )
    .execute(store.pool())
    .await;
    assert!(duplicate.is_err(), "the unique index is missing");

    sqlx::query("INSERT INTO snapshot_cache (id, serial, format, data) VALUES (1, 1, 1, x'00')")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM allow_entries WHERE id = 9")
        .execute(store.pool())
        .await
        .unwrap();
    let cached: i64 = sqlx::query_scalar("SELECT count(*) FROM snapshot_cache")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(cached, 0, "the delete trigger is missing");
}

#[tokio::test]
async fn pending_migrations_listed_and_applied_to_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dnsbl.db");
    schema_0007_pool(&path).await.close().await;
    let before = std::fs::read(&path).unwrap();
    let pending = Store::pending_migrations(&path).await.unwrap();
    assert_eq!(pending, ["8 allow entries autoincrement"]);
    let error = Store::open_read_only(&path)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.ends_with("migrations not applied yet (`dnsbl serve` or `dnsbl ingest` applies them): 8 allow entries autoincrement"),
        "{error}"
    );

    let copy = dir.path().join("copy.db");
    Store::copy_read_only(&path, &copy).await.unwrap();
    let store = Store::open(&copy).await.unwrap();
    assert!(!store.has_routing_data().await.unwrap());
    assert_eq!(
        Store::pending_migrations(&copy).await.unwrap(),
        Vec::<String>::new()
    );
    // The original is read only.
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        Store::pending_migrations(&path).await.unwrap(),
        ["8 allow entries autoincrement"]
    );
}

#[tokio::test]
async fn empty_file_has_every_migration_pending() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let pending = Store::pending_migrations(&path).await.unwrap();
    let all: Vec<String> = sqlx::migrate!("../../migrations")
        .iter()
        .map(|migration| format!("{} {}", migration.version, migration.description))
        .collect();
    assert_eq!(pending, all);
    assert_eq!(pending[0], "1 initial schema");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}
