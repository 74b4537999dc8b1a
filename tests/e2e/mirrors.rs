//! Mirrors give the live answers: rsync of the export directory to rbldnsd, and knotd as
//! a secondary by AXFR with NOTIFY and from the exported master files.
//!
//! Every seeded query name is asked of `dnsbl serve` and of each mirror over UDP, A and
//! TXT, and the answers must be equal, except for the differences that
//! `dnsbl_export` documents: a wildcard's TXT names the covered prefix or domain where the
//! live server names the address asked about, and rbldnsd's faults listed in
//! `dnsbl_export::RBLDNSD_DIFFERENCES`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use ipnet::IpNet;

use crate::peers::{self, KnotZone};
use crate::support::{Server, a_values, nibble_name, query_tcp, query_udp, repo_zones, txt_values};

const REGISTER: &str = r#"
[[category]]
name = "wide"
code = "127.0.0.4"
txt = "{query} is in a wide block of {provider} ({source})"

[[category]]
name = "narrow"
code = "127.0.0.3"
txt = "{query} is listed: {provider} ({source}), costs $5"

[[provider]]
name = "Wide Hosting"
category = "wide"
netblocks = ["127.0.0.0/8", "10.0.0.0/8", "2.6.0.0/16", "2600::/12", "2001:db8::/32", "198.51.100.0/22"]
domains = ["example.com"]

[[provider]]
name = "Narrow Hosting"
category = "narrow"
netblocks = ["10.1.2.0/24", "10.200.0.5", "2001:db8:1::/48", "192.0.2.10-192.0.2.20", "2.6.7.0/24"]
domains = ["sub.example.com", "example.net"]

[[allow]]
value = "10.3.3.3"
reason = "a customer's mail relay"

[[allow]]
value = "10.100.0.0/16"
reason = "a university"

[[allow]]
value = "2001:db8:ff::/48"
reason = "a university"

[[allow]]
value = "good.example.com"
reason = "a customer"
"#;

/// The allow-listed domain below a listed one.
const ALLOWED_BELOW_LISTED: &str = "good.example.com.dbl.example";

/// The ranges of the register and its allow list, for edge queries.
const EDGES: &[&str] = &[
    "127.0.0.0/8",
    "127.0.0.2",
    "10.0.0.0/8",
    "2.6.0.0/16",
    "2600::/12",
    "2001:db8::/32",
    "198.51.100.0/22",
    "10.1.2.0/24",
    "10.200.0.5",
    "2001:db8:1::/48",
    "192.0.2.10/32",
    "192.0.2.20/32",
    "2.6.7.0/24",
    "10.3.3.3",
    "10.100.0.0/16",
    "2001:db8:ff::/48",
];

/// A zones/ directory with the repository's zones.toml and bundled data and the register
/// above.
fn zones_dir(root: &Path) -> std::path::PathBuf {
    let zones = peers::subdir(root, "zones");
    std::fs::copy(repo_zones().join("zones.toml"), zones.join("zones.toml")).unwrap();
    std::fs::write(zones.join("register.toml"), REGISTER).unwrap();
    let data = peers::subdir(&zones, "data");
    for entry in std::fs::read_dir(repo_zones().join("data")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, data.join(path.file_name().unwrap())).unwrap();
    }
    zones
}

/// One name to ask, with the text the live server puts in place of `{query}`.
struct Question {
    name: String,
    query: String,
}

fn address_question(addr: IpAddr) -> Question {
    let name = match addr {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.bl.example")
        }
        IpAddr::V6(v6) => nibble_name(v6, "bl.example"),
    };
    Question {
        name,
        query: addr.to_string(),
    }
}

/// Edge addresses of every range, seeded random addresses inside and around them,
/// IPv4-mapped forms and domains: listed, below listed, allow-listed and unlisted.
fn questions() -> Vec<Question> {
    let mut addresses: Vec<IpAddr> = Vec::new();
    for range in EDGES {
        let net: IpNet = if range.contains('/') {
            range.parse().unwrap()
        } else {
            IpNet::from(range.parse::<IpAddr>().unwrap())
        };
        for edge in [net.network(), net.broadcast()] {
            addresses.push(edge);
            match edge {
                IpAddr::V4(a) => {
                    addresses.push(Ipv4Addr::from(u32::from(a).wrapping_sub(1)).into());
                    addresses.push(Ipv4Addr::from(u32::from(a).wrapping_add(1)).into());
                }
                IpAddr::V6(a) => {
                    addresses.push(Ipv6Addr::from(u128::from(a).wrapping_sub(1)).into());
                    addresses.push(Ipv6Addr::from(u128::from(a).wrapping_add(1)).into());
                }
            }
        }
    }
    // A fixed-seed xorshift generator, so a failure reproduces.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let v4_bases: [(u32, u32); 6] = [
        (0x7f00_0000, 24),
        (0x0a00_0000, 24),
        (0x0a01_0200, 8),
        (0x0206_0000, 16),
        (0xc633_6400, 10),
        (0xc000_0200, 8),
    ];
    let v6_bases: [(u128, u32); 4] = [
        (0x2600_u128 << 112, 116),
        (0x2001_0db8_u128 << 96, 96),
        (0x2001_0db8_0001_u128 << 80, 80),
        (0x2001_0db8_00ff_u128 << 80, 80),
    ];
    for _ in 0..600 {
        let (base, bits) = v4_bases[next() as usize % v4_bases.len()];
        let mask = ((1u64 << bits) - 1) as u32;
        addresses.push(Ipv4Addr::from(base | (next() as u32 & mask)).into());
        let (base, bits) = v6_bases[next() as usize % v6_bases.len()];
        let random = (u128::from(next()) << 64) | u128::from(next());
        let mask = (1u128 << bits) - 1;
        addresses.push(Ipv6Addr::from(base | (random & mask)).into());
    }
    for _ in 0..100 {
        addresses.push(Ipv4Addr::from(next() as u32).into());
    }
    let mut mapped = Vec::new();
    for addr in addresses.iter().take(200) {
        if let IpAddr::V4(v4) = addr {
            mapped.push(IpAddr::V6(v4.to_ipv6_mapped()));
        }
    }
    addresses.extend(mapped);
    let mut questions: Vec<Question> = addresses.into_iter().map(address_question).collect();
    for domain in [
        "example.com",
        "www.example.com",
        "a.b.example.com",
        "sub.example.com",
        "x.sub.example.com",
        "good.example.com",
        "mx.good.example.com",
        "example.net",
        "mail.example.net",
        "example.org",
        "test",
        "mail.test",
        "invalid",
        "notexample.com",
    ] {
        questions.push(Question {
            name: format!("{domain}.dbl.example"),
            query: domain.to_string(),
        });
    }
    questions
}

/// What a server answers for one name: rcode, A values and TXT texts, both sorted.
#[derive(Debug, PartialEq)]
struct Outcome {
    rcode: ResponseCode,
    a: Vec<String>,
    txt: Vec<String>,
}

fn ask(addr: SocketAddr, name: &str) -> Outcome {
    let response_a = query_udp(addr, name, RecordType::A);
    let response_txt = query_udp(addr, name, RecordType::TXT);
    assert_eq!(
        response_a.metadata.response_code, response_txt.metadata.response_code,
        "{addr}: the same rcode for A and TXT of {name}"
    );
    let mut a = a_values(&response_a);
    a.sort();
    let mut txt = txt_values(&response_txt);
    txt.sort();
    Outcome {
        rcode: response_a.metadata.response_code,
        a,
        txt,
    }
}

/// Whether a mirror's TXT text equals the live text, with the address or domain asked
/// about replaced by what an export may write there: a prefix containing the address
/// (wildcards; `or` between an IPv4 and an IPv6 prefix), `*.parent` or `parent` for a
/// domain below a listed parent (master-file wildcard; rbldnsd's `$` in dnset), or the
/// IPv4 form of an IPv4-mapped address (rbldnsd's `$` in ip6trie).
fn txt_matches(live: &str, mirror: &str, query: &str) -> bool {
    if live == mirror {
        return true;
    }
    // The live server writes an IPv4-mapped address in its IPv4 form.
    let mapped = match query.parse::<IpAddr>() {
        Ok(IpAddr::V6(asked)) => asked.to_ipv4_mapped().map(|v4| v4.to_string()),
        _ => None,
    };
    std::iter::once(query.to_string())
        .chain(mapped)
        .any(|form| txt_matches_form(live, mirror, &form))
}

fn txt_matches_form(live: &str, mirror: &str, query: &str) -> bool {
    let Some(position) = live.find(query) else {
        return false;
    };
    let (prefix, suffix) = (&live[..position], &live[position + query.len()..]);
    if mirror.len() < prefix.len() + suffix.len()
        || !mirror.starts_with(prefix)
        || !mirror.ends_with(suffix)
    {
        return false;
    }
    let middle = &mirror[prefix.len()..mirror.len() - suffix.len()];
    if let Ok(addr) = query.parse::<IpAddr>() {
        if middle.parse::<IpAddr>() == Ok(addr) {
            return true;
        }
        return middle
            .split(" or ")
            .any(|part| part.parse::<IpNet>().is_ok_and(|net| net.contains(&addr)));
    }
    let parent = middle.strip_prefix("*.").unwrap_or(middle);
    query.ends_with(&format!(".{parent}"))
}

/// Compares a mirror's outcome with the live one; `subset` accepts a non-empty part of
/// the live records (rbldnsd's ip6trie keeps one value per prefix).
fn same(live: &Outcome, mirror: &Outcome, query: &str, subset: bool) -> bool {
    if live.rcode != mirror.rcode {
        return false;
    }
    let a_ok = if subset && !live.a.is_empty() {
        !mirror.a.is_empty() && mirror.a.iter().all(|a| live.a.contains(a))
    } else {
        live.a == mirror.a
    };
    let txt_ok = if subset && !live.txt.is_empty() {
        !mirror.txt.is_empty()
            && mirror
                .txt
                .iter()
                .all(|m| live.txt.iter().any(|l| txt_matches(l, m, query)))
    } else {
        live.txt.len() == mirror.txt.len()
            && live
                .txt
                .iter()
                .all(|l| mirror.txt.iter().any(|m| txt_matches(l, m, query)))
    };
    a_ok && txt_ok
}

fn sha256sum_check(dir: &Path) {
    let output = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("sha256sum runs");
    assert!(
        output.status.success(),
        "pulled files match SHA256SUMS: {output:?}"
    );
}

#[test]
fn mirrors_answer_like_live_server() {
    if !peers::peers_available(&["rsync", "rbldnsd", "knotd", "sha256sum"]) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let work = root.path();
    let zones = zones_dir(work);
    let export = work.join("export");
    let knot_port = peers::free_port();
    let server = Server::start_with(
        &zones,
        &work.join("dnsbl.sqlite"),
        &[
            // 2600::/12 is wider than the default IPv6 limit on purpose.
            "--allow-wide-ranges".as_ref(),
            "--export-dir".as_ref(),
            export.as_os_str(),
            "--notify".as_ref(),
            format!("127.0.0.1:{knot_port}").as_ref(),
        ],
    );
    server.wait_for_log("export written", Duration::from_secs(30));

    let (_rsync, rsync_port) = peers::rsync_daemon(work, &export.join("current"));
    let mirror = peers::subdir(work, "mirror");
    peers::rsync_pull(rsync_port, &mirror);
    sha256sum_check(&mirror);
    let (_rbldnsd, rbldnsd) = peers::rbldnsd(work, &mirror);

    let primary = server.addr;
    let (_secondary, secondary) = peers::knotd(
        &peers::subdir(work, "secondary"),
        knot_port,
        &[
            ("bl.example", KnotZone::Secondary { primary }),
            ("dbl.example", KnotZone::Secondary { primary }),
        ],
    );
    let bl_file = mirror.join("bl.example.zone");
    let dbl_file = mirror.join("dbl.example.zone");
    let (_from_files, from_files) = peers::knotd(
        &peers::subdir(work, "files"),
        peers::free_port(),
        &[
            ("bl.example", KnotZone::File(&bl_file)),
            ("dbl.example", KnotZone::File(&dbl_file)),
        ],
    );

    // The wildcard case: 127.0.0.0/8 listed, 127.0.0.2 listed differently inside it.
    for (name, codes) in [
        ("3.0.0.127.bl.example", vec!["127.0.0.4"]),
        ("5.1.0.127.bl.example", vec!["127.0.0.4"]),
        ("2.0.0.127.bl.example", vec!["127.0.0.2", "127.0.0.4"]),
        ("9.9.9.127.bl.example", vec!["127.0.0.4"]),
    ] {
        for (label, addr) in [("AXFR secondary", secondary), ("master file", from_files)] {
            let outcome = ask(addr, name);
            assert_eq!(
                outcome.rcode,
                ResponseCode::NoError,
                "{label}: {name} rcode"
            );
            assert_eq!(outcome.a, codes, "{label}: {name} A values");
        }
    }
    // Allow-listed addresses inside listed ranges get NXDOMAIN from every mirror.
    for name in ["3.3.3.10.bl.example", "7.7.100.10.bl.example"] {
        for addr in [secondary, from_files, rbldnsd] {
            assert_eq!(
                ask(addr, name).rcode,
                ResponseCode::NXDomain,
                "{addr}: {name}"
            );
        }
    }

    let questions = questions();
    let mut failures = Vec::new();
    for question in &questions {
        let live = ask(primary, &question.name);
        let is_ipv6 = question.name.split('.').count() > 10;
        for (label, addr, subset) in [
            ("AXFR secondary", secondary, false),
            ("master file", from_files, false),
            ("rbldnsd", rbldnsd, is_ipv6),
        ] {
            let mirror = ask(addr, &question.name);
            // Documented in dnsbl_export::domain: an allow-listed domain below a listed
            // one exists as an empty node in master files, so NODATA stands for NXDOMAIN.
            if question.name == ALLOWED_BELOW_LISTED && label != "rbldnsd" {
                let nodata = Outcome {
                    rcode: ResponseCode::NoError,
                    a: Vec::new(),
                    txt: Vec::new(),
                };
                assert_eq!(
                    live.rcode,
                    ResponseCode::NXDomain,
                    "live: {}",
                    question.name
                );
                assert_eq!(mirror, nodata, "{label}: {}", question.name);
                continue;
            }
            if !same(&live, &mirror, &question.query, subset) {
                failures.push(format!(
                    "{label}, {}: live {live:?}, mirror {mirror:?}",
                    question.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} questions differ, first ones:\n{}",
        failures.len(),
        questions.len(),
        failures[..failures.len().min(10)].join("\n")
    );

    // A register change gives a new serial; NOTIFY makes the secondary transfer it.
    let before = peers::soa_serial(secondary, "bl.example.").expect("secondary has the zone");
    let register = format!(
        "{REGISTER}\n[[provider]]\nname = \"Late Hosting\"\ncategory = \"narrow\"\nnetblocks = [\"203.0.113.0/24\"]\n"
    );
    std::fs::write(zones.join("register.toml"), register).unwrap();
    server.hangup();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let outcome = ask(secondary, "9.113.0.203.bl.example");
        if outcome.rcode == ResponseCode::NoError && outcome.a == ["127.0.0.3"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the secondary did not pick up the change after NOTIFY; knotd log:\n{}",
            peers::log_of(&work.join("secondary"), "knotd.log")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let after = peers::soa_serial(secondary, "bl.example.").unwrap();
    assert!(after > before, "serial increased: {before} -> {after}");

    // The new set is in a new directory; a pull through `current` gets all of it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let serial_line = format!("\"serial\": {after},");
    while !std::fs::read_to_string(export.join("current/manifest.json"))
        .unwrap()
        .contains(&serial_line)
    {
        assert!(Instant::now() < deadline, "the new set was not published");
        std::thread::sleep(Duration::from_millis(100));
    }
    let transferred = peers::rsync_pull(rsync_port, &mirror);
    assert!(
        transferred.iter().any(|name| name == "bl.example.ip4set"),
        "the changed data file is transferred: {transferred:?}"
    );
    assert!(
        std::fs::read_to_string(mirror.join("manifest.json"))
            .unwrap()
            .contains(&serial_line),
        "the mirror has the new set"
    );
    sha256sum_check(&mirror);
}

#[test]
fn axfr_refused_outside_acl_and_over_udp() {
    let root = tempfile::tempdir().unwrap();
    let zones = zones_dir(root.path());
    let server = Server::start_with(
        &zones,
        &root.path().join("dnsbl.sqlite"),
        &[
            "--allow-wide-ranges".as_ref(),
            "--axfr-allow".as_ref(),
            "192.0.2.0/24".as_ref(),
        ],
    );
    let over_tcp = query_tcp(server.addr, "bl.example", RecordType::AXFR);
    assert_eq!(
        over_tcp.metadata.response_code,
        ResponseCode::Refused,
        "TCP outside the ACL"
    );
    assert!(over_tcp.answers.is_empty(), "no records outside the ACL");
    let over_udp = query_udp(server.addr, "bl.example", RecordType::AXFR);
    assert_eq!(
        over_udp.metadata.response_code,
        ResponseCode::Refused,
        "UDP"
    );
}

/// Reads one transfer over TCP: messages until the second SOA, as RFC 5936 §2.2 ends it.
fn read_transfer(
    addr: SocketAddr,
    zone: &str,
    rtype: RecordType,
) -> (usize, Vec<hickory_proto::rr::Record>) {
    use std::io::{Read, Write};

    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = hickory_proto::op::Message::query();
    request.add_query(hickory_proto::op::Query::query(
        hickory_proto::rr::Name::from_ascii(zone).unwrap(),
        rtype,
    ));
    let bytes = request.to_vec().unwrap();
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream.write_all(&framed).unwrap();

    let mut messages = 0;
    let mut records = Vec::new();
    let mut soa_count = 0;
    while soa_count < 2 {
        let mut length = [0u8; 2];
        stream
            .read_exact(&mut length)
            .expect("the transfer continues");
        let mut body = vec![0u8; u16::from_be_bytes(length) as usize];
        stream.read_exact(&mut body).unwrap();
        let message = hickory_proto::op::Message::from_vec(&body).unwrap();
        assert_eq!(
            message.metadata.response_code,
            ResponseCode::NoError,
            "message rcode"
        );
        assert_eq!(message.metadata.id, request.metadata.id, "message id");
        messages += 1;
        for record in message.answers {
            if record.record_type() == RecordType::SOA {
                soa_count += 1;
            }
            records.push(record);
        }
    }
    (messages, records)
}

#[test]
fn axfr_streams_large_zone() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(&repo_zones(), &root.path().join("dnsbl.sqlite"));
    let (messages, records) = read_transfer(server.addr, "bl.example", RecordType::AXFR);
    assert!(
        messages > 32,
        "more messages than the TCP send queue holds: {messages}"
    );
    assert_eq!(
        records.first().unwrap().record_type(),
        RecordType::SOA,
        "SOA first"
    );
    assert_eq!(
        records.last().unwrap().record_type(),
        RecordType::SOA,
        "SOA last"
    );
    assert!(
        records.len() > 10_000,
        "the whole zone: {} records",
        records.len()
    );
    let wildcard = records
        .iter()
        .filter(|record| record.name.is_wildcard())
        .count();
    assert!(wildcard > 0, "ranges are sent as wildcards");

    // IXFR falls back to the full zone in AXFR form (RFC 1995 §4).
    let (_, incremental) = read_transfer(server.addr, "bl.example", RecordType::IXFR);
    assert_eq!(incremental.len(), records.len(), "IXFR sends the full zone");
}
