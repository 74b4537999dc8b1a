use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dnsbl_core::{AclAction, AclRule, ClientAcl, QueryCounters};

use super::*;

fn limits(responses_per_second: u32, slip: u32, exempt: &[&str]) -> ClientLimits {
    let options = RateLimitOptions {
        responses_per_second,
        slip,
        exempt: exempt.iter().map(|net| net.parse().unwrap()).collect(),
        ..RateLimitOptions::default()
    };
    ClientLimits::new(options, Arc::new(QueryCounters::default()))
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn listed(name: &str) -> ResponseKind {
    ResponseKind::Answer {
        name: name_hash(name.split('.').map(str::as_bytes)),
        qtype: 1,
    }
}

/// Verdicts of `count` responses of one kind to one client at one instant.
fn verdicts(
    limits: &ClientLimits,
    client: &str,
    kind: ResponseKind,
    transport: Transport,
    count: usize,
    now: Instant,
) -> Vec<Verdict> {
    (0..count)
        .map(|_| {
            limits.decide(
                ip(client),
                Some((0, &ClientAcl::default())),
                kind,
                transport,
                now,
            )
        })
        .collect()
}

use Verdict::{Answer, Drop, Refuse, Slip};

#[test]
fn slip_every_second_limited_response() {
    let limits = limits(3, 2, &[]);
    let now = Instant::now();
    let kind = listed("2.0.0.127.bl.example");
    assert_eq!(
        verdicts(&limits, "192.0.2.1", kind, Transport::Udp, 8, now),
        [Answer, Answer, Answer, Drop, Slip, Drop, Slip, Drop]
    );
    let counters = &limits.counters.limits;
    assert_eq!(counters.rate_limited_dropped.load(Ordering::Relaxed), 3);
    assert_eq!(counters.rate_limited_slipped.load(Ordering::Relaxed), 2);
}

#[test]
fn slip_settings() {
    let now = Instant::now();
    let kind = listed("2.0.0.127.bl.example");
    let cases = [
        (0, [Answer, Drop, Drop, Drop]),
        (1, [Answer, Slip, Slip, Slip]),
        (3, [Answer, Drop, Drop, Slip]),
    ];
    for (slip, expected) in cases {
        let limits = limits(1, slip, &[]);
        assert_eq!(
            verdicts(&limits, "192.0.2.1", kind, Transport::Udp, 4, now),
            expected,
            "slip {slip}"
        );
    }
}

#[test]
fn clients_grouped_by_prefix() {
    let limits = limits(1, 0, &[]);
    let now = Instant::now();
    let kind = listed("2.0.0.127.bl.example");
    let cases = [
        ("192.0.2.1", Answer),
        ("192.0.2.200", Drop),
        ("::ffff:192.0.2.9", Drop),
        ("192.0.3.1", Answer),
        ("2001:db8:0:1::1", Answer),
        ("2001:db8:0:ff::2", Drop),
        ("2001:db8:0:100::1", Answer),
    ];
    for (client, expected) in cases {
        assert_eq!(
            verdicts(&limits, client, kind, Transport::Udp, 1, now),
            [expected],
            "{client}"
        );
    }
}

#[test]
fn identical_responses_share_a_bucket() {
    let limits = limits(1, 0, &[]);
    let now = Instant::now();
    let name = |text: &str| name_hash(text.split('.').map(str::as_bytes));
    let nodata = |text| ResponseKind::NoData { name: name(text) };
    // Each row is one response to the same client, in order.
    let cases = [
        (listed("2.0.0.127.bl.example"), Answer),
        (listed("2.0.0.127.BL.example"), Drop),
        (listed("3.0.0.127.bl.example"), Answer),
        (
            ResponseKind::Answer {
                name: name("2.0.0.127.bl.example"),
                qtype: 16,
            },
            Answer,
        ),
        (nodata("2.0.0.127.bl.example"), Answer),
        (nodata("2.0.0.127.bl.example"), Drop),
        (ResponseKind::NxDomain, Answer),
        (ResponseKind::NxDomain, Drop),
        (ResponseKind::Error { rcode: 5 }, Answer),
        (ResponseKind::Error { rcode: 5 }, Drop),
        (ResponseKind::Error { rcode: 1 }, Answer),
    ];
    for (index, (kind, expected)) in cases.into_iter().enumerate() {
        assert_eq!(
            verdicts(&limits, "192.0.2.1", kind, Transport::Udp, 1, now),
            [expected],
            "row {index}: {kind:?}"
        );
    }
}

#[test]
fn zones_have_separate_buckets() {
    let limits = limits(1, 0, &[]);
    let now = Instant::now();
    let acl = ClientAcl::default();
    let decide = |zone| {
        limits.decide(
            ip("192.0.2.1"),
            zone,
            ResponseKind::NxDomain,
            Transport::Udp,
            now,
        )
    };
    assert_eq!(decide(Some((0, &acl))), Answer);
    assert_eq!(decide(Some((0, &acl))), Drop);
    assert_eq!(decide(Some((1, &acl))), Answer);
    assert_eq!(decide(None), Answer);
    assert_eq!(decide(None), Drop);
}

#[test]
fn exempt_tcp_and_disabled_never_limited() {
    let now = Instant::now();
    let kind = listed("2.0.0.127.bl.example");
    let exempt = limits(1, 2, &["192.0.2.0/28", "2001:db8::/48"]);
    let all_answered = vec![Answer; 20];
    for client in ["192.0.2.1", "::ffff:192.0.2.15", "2001:db8::53"] {
        assert_eq!(
            verdicts(&exempt, client, kind, Transport::Udp, 20, now),
            all_answered,
            "{client}"
        );
    }
    assert_eq!(
        verdicts(&exempt, "192.0.2.16", kind, Transport::Udp, 2, now),
        [Answer, Drop]
    );
    let tcp = limits(1, 2, &[]);
    assert_eq!(
        verdicts(&tcp, "192.0.2.1", kind, Transport::Tcp, 20, now),
        all_answered
    );
    let off = limits(0, 2, &[]);
    assert_eq!(
        verdicts(&off, "192.0.2.1", kind, Transport::Udp, 20, now),
        all_answered
    );
}

#[test]
fn rate_refills_over_time() {
    let limits = limits(2, 0, &[]);
    let start = Instant::now();
    let kind = listed("2.0.0.127.bl.example");
    let at = |millis| start + Duration::from_millis(millis);
    assert_eq!(
        verdicts(&limits, "192.0.2.1", kind, Transport::Udp, 3, at(0)),
        [Answer, Answer, Drop]
    );
    assert_eq!(
        verdicts(&limits, "192.0.2.1", kind, Transport::Udp, 2, at(500)),
        [Answer, Drop]
    );
    assert_eq!(
        verdicts(&limits, "192.0.2.1", kind, Transport::Udp, 3, at(5_000)),
        [Answer, Answer, Drop]
    );
}

#[test]
fn acl_applies_before_rate_and_on_tcp() {
    let limits = limits(1, 1, &["192.0.2.0/24"]);
    let now = Instant::now();
    let rule = |prefix: &str, action| AclRule {
        prefix: prefix.parse().unwrap(),
        action,
    };
    let acl = ClientAcl {
        rules: vec![
            rule("192.0.2.128/25", AclAction::Allow),
            rule("192.0.2.0/24", AclAction::Refuse),
            rule("198.51.100.0/24", AclAction::Drop),
        ],
    };
    let cases = [
        ("192.0.2.7", Transport::Udp, Refuse),
        ("192.0.2.7", Transport::Tcp, Refuse),
        ("198.51.100.1", Transport::Udp, Drop),
        ("198.51.100.1", Transport::Tcp, Drop),
        ("192.0.2.200", Transport::Udp, Answer),
        ("203.0.113.1", Transport::Tcp, Answer),
    ];
    for (client, transport, expected) in cases {
        let verdict = limits.decide(
            ip(client),
            Some((0, &acl)),
            ResponseKind::NxDomain,
            transport,
            now,
        );
        assert_eq!(verdict, expected, "{client} over {transport:?}");
    }
    let counters = &limits.counters.limits;
    assert_eq!(counters.acl_refused.load(Ordering::Relaxed), 2);
    assert_eq!(counters.acl_dropped.load(Ordering::Relaxed), 2);
    assert_eq!(counters.rate_limited_dropped.load(Ordering::Relaxed), 0);
}

#[test]
fn classify_by_rcode_and_answers() {
    let cases = [
        (0, 2, ResponseKind::Answer { name: 7, qtype: 16 }),
        (0, 0, ResponseKind::NoData { name: 7 }),
        (3, 0, ResponseKind::NxDomain),
        (5, 0, ResponseKind::Error { rcode: 5 }),
        (2, 0, ResponseKind::Error { rcode: 2 }),
    ];
    for (rcode, answers, expected) in cases {
        assert_eq!(ResponseKind::classify(rcode, answers, 7, 16), expected);
    }
}
