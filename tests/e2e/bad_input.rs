//! Every kind of malformed input, fed to the real `dnsbl ingest` and `dnsbl serve`. Each
//! fails with exit code 1 and an error naming the file, the line where there is one, and
//! the value. None changes the stored data.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::db_state::{fingerprint, lookup};
use crate::support::{binary, repo_zones};

/// Maximum time `dnsbl serve` may take to reject a broken zones/ directory.
const SERVE_EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Addresses and domains whose `dnsbl lookup` output must not change.
const PROBES: &[&str] = &["5.10.100.7", "198.51.100.7", "192.0.2.1", "hostgator.com"];

/// Which command meets the broken input.
#[derive(Clone, Copy, Debug)]
enum Runner {
    /// `dnsbl ingest` with the bundled IPv4 slice and the broken CSV as a second file.
    IngestCsv,
    /// `dnsbl ingest` of the bundled slices with a broken file in zones/.
    IngestZones,
    /// `dnsbl serve` with a broken file in zones/.
    Serve,
}

struct Case {
    name: &'static str,
    runner: Runner,
    /// For [`Runner::IngestCsv`], the CSV; otherwise the zones/ file to replace.
    file: &'static str,
    contents: Vec<u8>,
    /// Texts the error must contain, besides the file's path.
    expected: &'static [&'static str],
}

fn register_with(extra: &str) -> Vec<u8> {
    let base = std::fs::read_to_string(repo_zones().join("register.toml")).unwrap();
    format!("{base}\n{extra}\n").into_bytes()
}

fn zones_with(extra: &str) -> Vec<u8> {
    let base = std::fs::read_to_string(repo_zones().join("zones.toml")).unwrap();
    format!("{base}\n{extra}\n").into_bytes()
}

const GOOD_ROW: &str = "203.0.113.0,203.0.113.255,64500,Example\n";

fn csv(text: &str) -> Vec<u8> {
    format!("{GOOD_ROW}{text}").into_bytes()
}

fn provider(extra: &str) -> Vec<u8> {
    register_with(&format!(
        "[[provider]]\nname = \"Broken Example\"\ncategory = \"bad-service-provider\"\n{extra}"
    ))
}

fn cases() -> Vec<Case> {
    let mut non_utf8 = csv("198.51.100.0,198.51.100.255,64501,caf").to_vec();
    non_utf8.extend([0xe9, b'\n']);
    vec![
        Case {
            name: "csv wrong field count",
            runner: Runner::IngestCsv,
            file: "bad.csv",
            contents: csv("198.51.100.0,198.51.100.255,64501\n"),
            expected: &[
                ":2: expected 4 fields",
                "(198.51.100.0,198.51.100.255,64501)",
            ],
        },
        Case {
            name: "csv bad address",
            runner: Runner::IngestCsv,
            file: "bad.csv",
            contents: csv("198.51.100.0,198.51.100.256,64501,x\n"),
            expected: &[":2: invalid end address", "(198.51.100.256)"],
        },
        Case {
            name: "csv start after end",
            runner: Runner::IngestCsv,
            file: "bad.csv",
            contents: csv("198.51.100.9,198.51.100.1,64501,x\n"),
            expected: &[":2: start is after end", "(198.51.100.9,198.51.100.1)"],
        },
        Case {
            name: "csv not utf-8",
            runner: Runner::IngestCsv,
            file: "bad.csv",
            contents: non_utf8,
            expected: &[":2: invalid UTF-8", "(caf\u{fffd})"],
        },
        Case {
            name: "csv truncated in a quote",
            runner: Runner::IngestCsv,
            file: "bad.csv",
            contents: csv("198.51.100.0,198.51.100.255,64501,\"Example, In"),
            expected: &[":2: unterminated quote", "Example, In"],
        },
        Case {
            name: "csv unknown asn syntax",
            runner: Runner::IngestCsv,
            file: "bad.csv",
            contents: csv("198.51.100.0,198.51.100.255,AS64501,x\n"),
            expected: &[":2: invalid ASN", "(AS64501)"],
        },
        Case {
            name: "csv empty file",
            runner: Runner::IngestCsv,
            file: "empty.csv",
            contents: Vec::new(),
            expected: &[": the file contains no rows"],
        },
        Case {
            name: "csv row of all ipv4",
            runner: Runner::IngestCsv,
            file: "bad.csv",
            contents: csv("0.0.0.0,255.255.255.255,64501,x\n"),
            expected: &[
                ":2: range is wider than the maximum IPv4 size /6",
                "(0.0.0.0,255.255.255.255)",
            ],
        },
        Case {
            name: "csv row of all ipv6",
            runner: Runner::IngestCsv,
            file: "bad.csv",
            contents: csv("::,ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,64501,x\n"),
            expected: &[":2: range is wider than the maximum IPv6 size /16"],
        },
        Case {
            name: "csv mapped row of all ipv4",
            runner: Runner::IngestCsv,
            file: "bad.csv",
            contents: csv("::ffff:0.0.0.0,::ffff:255.255.255.255,36351,x\n"),
            expected: &[
                ":2: its ::ffff:0:0/96 part covers the IPv4 range 0.0.0.0/0, wider than the \
                 maximum IPv4 size /6",
                "(::ffff:0.0.0.0,::ffff:255.255.255.255)",
            ],
        },
        Case {
            name: "netblock ::/16",
            runner: Runner::Serve,
            file: "register.toml",
            contents: provider("netblocks = [\"::/16\"]"),
            expected: &[
                "provider \"Broken Example\": netblock ::/16: its ::ffff:0:0/96 part covers \
                 the IPv4 range 0.0.0.0/0, wider than the maximum IPv4 size /6",
            ],
        },
        Case {
            name: "netblock of all mapped ipv4",
            runner: Runner::IngestZones,
            file: "register.toml",
            contents: provider("netblocks = [\"::ffff:0:0/96\"]"),
            expected: &[
                "provider \"Broken Example\": netblock ::ffff:0.0.0.0/96: its ::ffff:0:0/96 \
                 part covers the IPv4 range 0.0.0.0/0, wider than the maximum IPv4 size /6",
            ],
        },
        Case {
            name: "netblock with host bits",
            runner: Runner::IngestZones,
            file: "register.toml",
            contents: provider("netblocks = [\"192.0.2.1/24\"]"),
            expected: &[
                "provider \"Broken Example\"",
                "\"192.0.2.1/24\"",
                "host bits",
            ],
        },
        Case {
            name: "netblock start after end",
            runner: Runner::IngestZones,
            file: "register.toml",
            contents: provider("netblocks = [\"10.0.0.9-10.0.0.1\"]"),
            expected: &["\"10.0.0.9-10.0.0.1\"", "start is after end"],
        },
        Case {
            name: "netblock of all ipv4",
            runner: Runner::IngestZones,
            file: "register.toml",
            contents: provider("netblocks = [\"0.0.0.0/0\"]"),
            expected: &["provider \"Broken Example\"", "netblock 0.0.0.0/0", "wider"],
        },
        Case {
            name: "provider defined twice",
            runner: Runner::IngestZones,
            file: "register.toml",
            contents: register_with(
                "[[provider]]\nname = \"SoftLayer Technologies Inc.\"\n\
                 category = \"bad-service-provider\"\n",
            ),
            expected: &["provider \"SoftLayer Technologies Inc.\"", "defined twice"],
        },
        Case {
            name: "register unknown category",
            runner: Runner::Serve,
            file: "register.toml",
            contents: register_with(
                "[[provider]]\nname = \"Broken Example\"\ncategory = \"nope\"\n",
            ),
            expected: &["category \"nope\" is not defined"],
        },
        Case {
            name: "register toml syntax",
            runner: Runner::Serve,
            file: "register.toml",
            contents: register_with("[[provider]\nname = \"x\""),
            expected: &["line ", "column "],
        },
        Case {
            name: "register unknown key",
            runner: Runner::Serve,
            file: "register.toml",
            contents: provider("colour = \"red\""),
            expected: &["line ", "unknown field `colour`"],
        },
        Case {
            name: "code outside 127/8",
            runner: Runner::Serve,
            file: "register.toml",
            contents: register_with("[[category]]\nname = \"x\"\ncode = \"10.0.0.2\"\ntxt = \"t\""),
            expected: &["category \"x\"", "10.0.0.2"],
        },
        Case {
            name: "code 127.0.0.1",
            runner: Runner::Serve,
            file: "register.toml",
            contents: register_with(
                "[[category]]\nname = \"x\"\ncode = \"127.0.0.1\"\ntxt = \"t\"",
            ),
            expected: &["category \"x\"", "127.0.0.1"],
        },
        Case {
            name: "code 127.0.0.0",
            runner: Runner::Serve,
            file: "register.toml",
            contents: register_with(
                "[[category]]\nname = \"x\"\ncode = \"127.0.0.0\"\ntxt = \"t\"",
            ),
            expected: &[
                "category \"x\": invalid listing code 127.0.0.0 for category \"x\": 127.0.0.0 \
                 is the network address of 127.0.0.0/8, not a listing code",
            ],
        },
        Case {
            name: "allow domain in address zone",
            runner: Runner::Serve,
            file: "register.toml",
            contents: register_with(
                "[[allow]]\nvalue = \"mail.example.org\"\nreason = \"r\"\nzone = \"bl.example\"",
            ),
            expected: &[
                "allow \"mail.example.org\": \"mail.example.org\" is a domain, but zone \
                 \"bl.example\" is an address zone, where the entry has no effect",
            ],
        },
        Case {
            name: "allow address in domain zone",
            runner: Runner::IngestZones,
            file: "register.toml",
            contents: register_with(
                "[[allow]]\nvalue = \"192.0.2.0/28\"\nreason = \"r\"\nzone = \"dbl.example\"",
            ),
            expected: &[
                "allow \"192.0.2.0/28\": \"192.0.2.0/28\" is an address, but zone \
                 \"dbl.example\" is a domain zone, where the entry has no effect",
            ],
        },
        Case {
            name: "category named like the test entries",
            runner: Runner::Serve,
            file: "register.toml",
            contents: register_with(
                "[[category]]\nname = \"RFC5782-Test\"\ncode = \"127.0.0.8\"\ntxt = \"t\"",
            ),
            expected: &[
                "category \"RFC5782-Test\": the category name \"RFC5782-Test\" is reserved, \
                 in any letter case, for the RFC 5782 test entries",
            ],
        },
        Case {
            name: "template with a line feed",
            runner: Runner::Serve,
            file: "register.toml",
            contents: register_with(
                "[[category]]\nname = \"x\"\ncode = \"127.0.0.8\"\ntxt = \"{query}\\n250 ok\"",
            ),
            expected: &["category \"x\": txt contains the control character '\\n' at character 8"],
        },
        Case {
            name: "template with a lone brace",
            runner: Runner::IngestZones,
            file: "register.toml",
            contents: register_with(
                "[[category]]\nname = \"x\"\ncode = \"127.0.0.8\"\ntxt = \"{query} }\"",
            ),
            expected: &["category \"x\": unmatched '}' at character 9 in txt"],
        },
        Case {
            name: "allow with a blank reason",
            runner: Runner::Serve,
            file: "register.toml",
            contents: register_with("[[allow]]\nvalue = \"192.0.2.1\"\nreason = \"\""),
            expected: &["allow \"192.0.2.1\": blank reason \"\""],
        },
        Case {
            name: "date not in the calendar",
            runner: Runner::Serve,
            file: "register.toml",
            contents: provider("listed_since = \"2026-02-31\""),
            expected: &["provider \"Broken Example\": invalid date \"2026-02-31\""],
        },
        Case {
            name: "provider without a name",
            runner: Runner::Serve,
            file: "register.toml",
            contents: register_with(
                "[[provider]]\nname = \"\"\ncategory = \"bad-service-provider\"",
            ),
            expected: &["provider \"\": invalid name \"\": expected a non-empty name"],
        },
        Case {
            name: "netblock with a space",
            runner: Runner::Serve,
            file: "register.toml",
            contents: provider("netblocks = [\" 10.0.0.1\"]"),
            expected: &[
                "provider \"Broken Example\": invalid address or netblock \" 10.0.0.1\": \
                 remove the spaces around it",
            ],
        },
        Case {
            name: "domain with two trailing dots",
            runner: Runner::Serve,
            file: "register.toml",
            contents: provider("domains = [\"example.com..\"]"),
            expected: &["provider \"Broken Example\": invalid domain name \"example.com..\""],
        },
        Case {
            name: "zones toml syntax",
            runner: Runner::Serve,
            file: "zones.toml",
            contents: zones_with("[[zone]\nname = "),
            expected: &["line ", "column "],
        },
        Case {
            name: "zones unknown key",
            runner: Runner::Serve,
            file: "zones.toml",
            contents: zones_with("[[zone]]\nname = \"x.example\"\nkind = \"address\"\ncolour = 1"),
            expected: &["line ", "unknown field `colour`"],
        },
        Case {
            name: "zones unknown category",
            runner: Runner::Serve,
            file: "zones.toml",
            contents: zones_with(
                "[[zone]]\nname = \"x.example\"\nkind = \"address\"\ncategories = [\"nope\"]",
            ),
            expected: &["zone \"x.example\"", "category \"nope\" is not defined"],
        },
    ]
}

/// Copies the repository's zones/ (the two TOML files and data/) into `dir`.
pub fn copy_zones(dir: &Path) -> PathBuf {
    let zones = dir.join("zones");
    std::fs::create_dir_all(zones.join("data")).unwrap();
    for name in ["zones.toml", "register.toml"] {
        std::fs::copy(repo_zones().join(name), zones.join(name)).unwrap();
    }
    for entry in std::fs::read_dir(repo_zones().join("data")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, zones.join("data").join(path.file_name().unwrap())).unwrap();
    }
    zones
}

pub fn slices() -> Vec<PathBuf> {
    ["asn-ipv4-slice.csv", "asn-ipv6-slice.csv"]
        .iter()
        .map(|name| repo_zones().join("data").join(name))
        .collect()
}

pub fn ingest(zones: &Path, db: &Path, files: &[PathBuf]) -> std::process::Output {
    binary()
        .arg("ingest")
        .arg("--zones")
        .arg(zones)
        .arg("--db")
        .arg(db)
        .arg("--asn-data")
        .args(files)
        .output()
        .expect("dnsbl ingest runs")
}

/// Runs `dnsbl serve` and waits for it to exit, failing the test if it is still running
/// after [`SERVE_EXIT_TIMEOUT`].
pub fn serve_until_exit(zones: &Path, db: &Path) -> std::process::Output {
    let mut child = binary()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .arg("--zones")
        .arg(zones)
        .arg("--db")
        .arg(db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("dnsbl serve starts");
    let deadline = Instant::now() + SERVE_EXIT_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dnsbl serve kept running with a broken zones/ directory");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn lookups(zones: &Path, db: &Path) -> Vec<String> {
    PROBES
        .iter()
        .map(|probe| lookup(zones, db, probe))
        .collect()
}

#[test]
fn bad_input_fails_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let good_zones = copy_zones(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    let first = ingest(&good_zones, &db, &slices());
    assert!(first.status.success(), "first ingest: {first:?}");
    let stored = fingerprint(&db);
    let answers = lookups(&good_zones, &db);
    assert!(answers[0].contains("SoftLayer"), "{}", answers[0]);

    for (index, case) in cases().into_iter().enumerate() {
        let case_dir = dir.path().join(format!("case{index}"));
        std::fs::create_dir_all(&case_dir).unwrap();
        let (output, path) = match case.runner {
            Runner::IngestCsv => {
                let path = case_dir.join(case.file);
                std::fs::write(&path, &case.contents).unwrap();
                let files = [slices()[0].clone(), path.clone()];
                (ingest(&good_zones, &db, &files), path)
            }
            Runner::IngestZones | Runner::Serve => {
                let zones = copy_zones(&case_dir);
                let path = zones.join(case.file);
                std::fs::write(&path, &case.contents).unwrap();
                let output = match case.runner {
                    Runner::Serve => serve_until_exit(&zones, &db),
                    _ => ingest(&zones, &db, &slices()),
                };
                (output, path)
            }
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = case.name;
        assert!(
            !output.status.success(),
            "{name}: exit status {:?}",
            output.status
        );
        assert_eq!(output.status.code(), Some(1), "{name}: exit code");
        assert!(
            stderr.contains(&path.display().to_string()),
            "{name}: the error names {}: {stderr}",
            path.display()
        );
        for text in case.expected {
            assert!(
                stderr.contains(text),
                "{name}: expected {text:?} in: {stderr}"
            );
        }
        assert_eq!(fingerprint(&db), stored, "{name}: the stored data changed");
        assert_eq!(
            lookups(&good_zones, &db),
            answers,
            "{name}: lookups changed"
        );
    }
}

#[test]
fn wide_ranges_pass_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let zones = copy_zones(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    let wide = dir.path().join("wide.csv");
    std::fs::write(&wide, "0.0.0.0,255.255.255.255,64501,Everything\n").unwrap();
    let rejected = ingest(&zones, &db, std::slice::from_ref(&wide));
    assert!(!rejected.status.success(), "{rejected:?}");

    let allowed = binary()
        .arg("ingest")
        .arg("--zones")
        .arg(&zones)
        .arg("--db")
        .arg(&db)
        .arg("--allow-wide-ranges")
        .arg("--asn-data")
        .arg(&wide)
        .output()
        .unwrap();
    assert!(allowed.status.success(), "{allowed:?}");

    let narrow = dir.path().join("narrow.csv");
    std::fs::write(&narrow, "10.0.0.0,10.255.255.255,64501,Ten\n").unwrap();
    let limited = binary()
        .arg("ingest")
        .arg("--zones")
        .arg(&zones)
        .arg("--db")
        .arg(&db)
        .args(["--max-prefix-v4", "9", "--asn-data"])
        .arg(&narrow)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&limited.stderr);
    assert!(!limited.status.success(), "{limited:?}");
    assert!(
        stderr.contains("wider than the maximum IPv4 size /9"),
        "{stderr}"
    );
}
