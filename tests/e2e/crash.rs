//! `kill -9` of the real process in the middle of an ingest and of admin API writes: the
//! database passes `PRAGMA integrity_check`, and the next start serves the last committed
//! data, never half of a write.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::rr::RecordType;

use crate::bad_input::serve_until_exit;
use crate::db_state::{checkpoint, fingerprint, integrity_check, lookup, root_page};
use crate::http::request;
use crate::support::{Server, a_values, binary, field, query_udp, repo_zones};

/// Rows in the generated routing file: enough that an ingest runs for seconds.
const GENERATED_ROWS: u32 = 1_000_000;
/// Addresses whose `dnsbl lookup` output tells the routing data before and after.
const PROBES: &[&str] = &["5.10.100.7", "198.51.100.7"];

/// A pseudo-random number below `bound` from the clock, so every run kills at another
/// moment without a random number crate.
fn random_below(bound: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos.wrapping_mul(2_654_435_761)) % bound
}

/// Writes `GENERATED_ROWS` /24 rows from 1.0.0.0 upwards, which replace the row of
/// 5.10.100.0/24 (AS36351 in the bundled slice) with another ASN, and one row listing
/// 198.51.100.0/24 under AS36351. An ingest of it that commits delists 5.10.100.7 and
/// lists 198.51.100.7.
fn write_generated(path: &Path) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..GENERATED_ROWS {
        let start = (1u32 << 24) + i * 256;
        let [a, b, c, _] = start.to_be_bytes();
        writeln!(
            out,
            "{a}.{b}.{c}.0,{a}.{b}.{c}.255,{},Generated",
            64500 + i % 100
        )
        .unwrap();
    }
    writeln!(out, "198.51.100.0,198.51.100.255,36351,Generated").unwrap();
    out.flush().unwrap();
}

fn lookups(db: &Path) -> Vec<String> {
    PROBES
        .iter()
        .map(|probe| lookup(&repo_zones(), db, probe))
        .collect()
}

fn ingest_command(db: &Path, files: &[PathBuf]) -> std::process::Command {
    let mut command = binary();
    command
        .arg("ingest")
        .arg("--zones")
        .arg(repo_zones())
        .arg("--db")
        .arg(db)
        .arg("--asn-data")
        .args(files)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Size of the write-ahead log, 0 when it does not exist.
fn wal_size(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len())
}

#[test]
fn killed_ingest_keeps_last_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let slices: Vec<PathBuf> = ["asn-ipv4-slice.csv", "asn-ipv6-slice.csv"]
        .iter()
        .map(|name| repo_zones().join("data").join(name))
        .collect();
    let first = ingest_command(&db, &slices).status().unwrap();
    assert!(first.success(), "first ingest: {first:?}");
    let before = lookups(&db);
    let stored = fingerprint(&db);
    assert!(before[0].contains("SoftLayer"), "{}", before[0]);
    assert!(before[1].contains("not listed"), "{}", before[1]);

    let generated = dir.path().join("generated.csv");
    write_generated(&generated);
    let wal_at_start = wal_size(&db);

    // Two kills at a random moment (most land while the file is parsed) and two once the
    // transaction has spilled pages into the write-ahead log, in the middle of its writes.
    let triggers = [None, None, Some(1 << 20), Some(8 << 20)];
    for (run, wal_threshold) in triggers.into_iter().enumerate() {
        let mut child = ingest_command(&db, std::slice::from_ref(&generated))
            .spawn()
            .unwrap();
        let started = Instant::now();
        let delay = Duration::from_millis(200 + random_below(2_800));
        let deadline = started + Duration::from_secs(20);
        let finished = loop {
            if child.try_wait().unwrap().is_some() {
                break true;
            }
            let due = match wal_threshold {
                None => started.elapsed() >= delay,
                Some(bytes) => wal_size(&db) >= wal_at_start + bytes,
            };
            if due || Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let _ = child.kill();
        let status = child.wait().unwrap();
        eprintln!(
            "run {run}: killed after {:?} (finished first: {finished}, WAL {} bytes, {status:?})",
            started.elapsed(),
            wal_size(&db)
        );

        let after = lookups(&db);
        assert_eq!(integrity_check(&db), "ok", "run {run}");
        if finished && status.success() {
            // The ingest committed before the kill: the new data is served.
            assert!(after[0].contains("not listed"), "run {run}: {}", after[0]);
            assert!(after[1].contains("SoftLayer"), "run {run}: {}", after[1]);
            return;
        }
        assert_eq!(
            after, before,
            "run {run}: lookups changed after a killed ingest"
        );
        assert_eq!(fingerprint(&db), stored, "run {run}: stored data changed");
    }
}

/// Starts a server, returns it with its admin API address.
fn start_with_admin(db: &Path) -> (Server, std::net::SocketAddr) {
    let server = Server::start(&repo_zones(), db);
    let line = server.wait_for_log("admin API listening", Duration::from_secs(10));
    let admin = field(&line, "address").unwrap().parse().unwrap();
    (server, admin)
}

#[test]
fn killed_admin_write_keeps_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let output = binary()
        .args([
            "token", "create", "--name", "crash", "--role", "admin", "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();

    let (server, admin) = start_with_admin(&db);
    // Provider N lists 198.18.N.0/24 (the benchmarking range of RFC 2544).
    let acknowledged = Arc::new(Mutex::new(Vec::<u32>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        let token = token.clone();
        std::thread::spawn(move || {
            for n in 0..256u32 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let body = format!(
                    r#"{{"name":"crash-{n}","category":"bad-service-provider","netblocks":["198.18.{n}.0/24"]}}"#
                );
                // A request cut by the kill panics inside the client; that ends the thread.
                let response = std::panic::catch_unwind(|| {
                    request(admin, "POST", "/v1/providers", Some(&token), Some(&body))
                });
                match response {
                    Ok(response) if response.status == 201 => acknowledged.lock().unwrap().push(n),
                    Ok(response) => panic!("provider crash-{n}: {}", response.body),
                    Err(_) => break,
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300 + random_below(700)));
    drop(server); // SIGKILL
    stop.store(true, Ordering::SeqCst);
    let _ = writer.join();
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!("{} writes acknowledged before the kill", acknowledged.len());
    assert!(
        !acknowledged.is_empty(),
        "no write finished before the kill"
    );

    let (server, admin) = start_with_admin(&db);
    assert_eq!(integrity_check(&db), "ok");
    for n in &acknowledged {
        let name = format!("1.{n}.18.198.bl.example");
        let response = query_udp(server.addr, &name, RecordType::A);
        assert_eq!(a_values(&response), ["127.0.0.2"], "acknowledged crash-{n}");
    }
    // At most the write in flight at the kill may have committed besides them. If its
    // provider was stored, the restart expanded it, even when the kill came between the
    // provider's commit and its expansion.
    let next = acknowledged.iter().max().unwrap() + 1;
    let path = format!("/v1/providers/crash-{next}");
    let in_flight = request(admin, "GET", &path, Some(&token), None);
    let name = format!("1.{next}.18.198.bl.example");
    let response = query_udp(server.addr, &name, RecordType::A);
    match in_flight.status {
        200 => assert_eq!(a_values(&response), ["127.0.0.2"], "stored crash-{next}"),
        404 => assert!(a_values(&response).is_empty(), "absent crash-{next}"),
        status => panic!("GET {path}: {status} {}", in_flight.body),
    }
    let beyond = format!("1.{}.18.198.bl.example", next + 1);
    let response = query_udp(server.addr, &beyond, RecordType::A);
    assert!(
        a_values(&response).is_empty(),
        "crash-{} was never sent",
        next + 1
    );
}

#[test]
fn damaged_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let slice = repo_zones().join("data").join("asn-ipv4-slice.csv");
    let first = ingest_command(&db, &[slice]).status().unwrap();
    assert!(first.success(), "first ingest: {first:?}");
    let (page_size, pages) = checkpoint(&db);
    assert!(pages > 8, "{pages} pages");
    // Overwrite three pages in the middle of the file, as a failing disk would.
    let mut bytes = std::fs::read(&db).unwrap();
    let start = (page_size * (pages / 2)) as usize;
    bytes[start..start + 3 * page_size as usize].fill(0xa5);
    std::fs::write(&db, bytes).unwrap();

    let output = serve_until_exit(&repo_zones(), &db);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{} is corrupt", db.display())),
        "{stderr}"
    );

    let foreign = dir.path().join("notes.sqlite");
    std::fs::write(&foreign, "SQLite format 3\0 but only a note\n".repeat(100)).unwrap();
    let output = serve_until_exit(&repo_zones(), &foreign);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{} is not a SQLite database", foreign.display())),
        "{stderr}"
    );
}

/// Damage in a page that the start does not read (the index of `listed_ranges`, because
/// the snapshot comes from its cache) is found by the check that runs once the server
/// answers. The server then stops with an error naming the path, before the admin API
/// could write to the file.
#[test]
fn damage_found_after_start_stops_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let slice = repo_zones().join("data").join("asn-ipv4-slice.csv");
    let first = ingest_command(&db, &[slice]).status().unwrap();
    assert!(first.success(), "first ingest: {first:?}");
    damage_root_page(&db, "listed_ranges_by_provider");

    // Returns once the server logged that it answers DNS, so the start read no damage.
    let mut server = Server::start(&repo_zones(), &db);
    let expected = format!("{} is corrupt", db.display());
    let mut before_error = Vec::new();
    loop {
        let line = server
            .log
            .recv_timeout(Duration::from_secs(30))
            .expect("a log line naming the damaged file");
        if line.contains(&expected) {
            break;
        }
        before_error.push(line);
    }
    assert!(
        !before_error
            .iter()
            .any(|line| line.contains("admin API listening")),
        "{before_error:#?}"
    );
    let status = server.wait_for_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1));
}

/// `dnsbl check` reads every page, so it reports damage that a snapshot load never reads.
#[test]
fn check_reports_damaged_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");
    let slice = repo_zones().join("data").join("asn-ipv4-slice.csv");
    let first = ingest_command(&db, &[slice]).status().unwrap();
    assert!(first.success(), "first ingest: {first:?}");
    let check = || {
        binary()
            .arg("check")
            .arg("--zones")
            .arg(repo_zones())
            .arg("--db")
            .arg(&db)
            .output()
            .expect("dnsbl check runs")
    };

    let output = check();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("PRAGMA quick_check passed"), "{stdout}");

    damage_root_page(&db, "listed_ranges_by_provider");
    let output = check();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{} is corrupt", db.display())),
        "{stderr}"
    );
}

/// Overwrites the root page of the table or index `name` in the file itself, as a failing
/// disk would.
fn damage_root_page(db: &Path, name: &str) {
    let (page_size, _) = checkpoint(db);
    let page = root_page(db, name);
    let mut bytes = std::fs::read(db).unwrap();
    let start = (page_size * (page - 1)) as usize;
    bytes[start..start + page_size as usize].fill(0xa5);
    std::fs::write(db, bytes).unwrap();
}
