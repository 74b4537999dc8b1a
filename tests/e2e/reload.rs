//! Reloads under load: a client queries without pause while the register is replaced and
//! the server is sent SIGHUP ten times. Every query must be answered, from either the old
//! or the new data, and an allow-list entry must hold in both.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::support::{Server, a_values, query_udp};

/// Register listing `netblock`, with 198.18.0.7 and 198.18.1.7 on the allow-list.
fn write_register(zones: &Path, netblock: &str) {
    let register = format!(
        "[[category]]\nname = \"listed\"\ncode = \"127.0.0.2\"\ntxt = \"{{query}} listed\"\n\n\
         [[provider]]\nname = \"Swapped\"\ncategory = \"listed\"\nnetblocks = [\"{netblock}\"]\n\n\
         [[allow]]\nvalue = \"198.18.0.7\"\nreason = \"test\"\n\n\
         [[allow]]\nvalue = \"198.18.1.7\"\nreason = \"test\"\n"
    );
    std::fs::write(zones.join("register.toml"), register).unwrap();
}

#[test]
fn sighup_reloads_lose_no_query() {
    let temp = tempfile::tempdir().unwrap();
    let zones = temp.path().join("zones");
    std::fs::create_dir_all(zones.join("data")).unwrap();
    std::fs::write(
        zones.join("zones.toml"),
        "[[zone]]\nname = \"bl.test\"\nkind = \"address\"\n",
    )
    .unwrap();
    std::fs::write(
        zones.join("data/asn.csv"),
        "203.0.113.0,203.0.113.255,64511,Unrelated\n",
    )
    .unwrap();
    let versions = ["198.18.0.0/24", "198.18.1.0/24"];
    write_register(&zones, versions[0]);
    let server = Server::start(&zones, &temp.path().join("dnsbl.sqlite"));

    let stop = Arc::new(AtomicBool::new(false));
    let addr = server.addr;
    let client = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut answered = [0usize; 2];
            while !stop.load(Ordering::Relaxed) {
                // query_udp panics when a response is missing, which fails the test.
                for (index, name) in ["1.0.18.198.bl.test.", "1.1.18.198.bl.test."]
                    .into_iter()
                    .enumerate()
                {
                    let response = query_udp(addr, name, RecordType::A);
                    match response.metadata.response_code {
                        ResponseCode::NoError => {
                            assert_eq!(a_values(&response), ["127.0.0.2"], "{name}")
                        }
                        ResponseCode::NXDomain => assert!(response.answers.is_empty()),
                        other => panic!("{name}: unexpected {other}"),
                    }
                    answered[index] += 1;
                }
                for name in ["7.0.18.198.bl.test.", "7.1.18.198.bl.test."] {
                    let response = query_udp(addr, name, RecordType::A);
                    assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
                }
                let test_entry = query_udp(addr, "2.0.0.127.bl.test.", RecordType::A);
                assert_eq!(a_values(&test_entry), ["127.0.0.2"]);
            }
            answered
        })
    };

    for round in 1..=10 {
        let listed = versions[round % 2];
        write_register(&zones, listed);
        let status = Command::new("kill")
            .args(["-HUP", &server.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        server.wait_for_log("SIGHUP received", Duration::from_secs(20));
        // Within a few seconds only the new data answers. A reload started by the polling
        // of the database serial also logs "snapshot loaded", so the answers are waited for.
        let (now_listed, now_unlisted) = if round % 2 == 0 {
            ("1.0.18.198.bl.test.", "1.1.18.198.bl.test.")
        } else {
            ("1.1.18.198.bl.test.", "1.0.18.198.bl.test.")
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let listed = query_udp(addr, now_listed, RecordType::A);
            let unlisted = query_udp(addr, now_unlisted, RecordType::A);
            if a_values(&listed) == ["127.0.0.2"]
                && unlisted.metadata.response_code == ResponseCode::NXDomain
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: new data not served"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let answered = client.join().expect("the client saw only valid answers");
    assert!(answered[0] > 10, "only {answered:?} queries answered");
}
