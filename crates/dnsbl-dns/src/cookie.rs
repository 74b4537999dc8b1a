//! The DNS COOKIE option (RFC 7873) in requests, read by a server that issues no Server
//! Cookies.
//!
//! The option's length is checked as RFC 7873 §5.2.2 requires. A COOKIE option is
//! malformed when it is shorter than the 8-byte Client Cookie, longer than 40 bytes, or
//! between 9 and 15 bytes (too long for a Client Cookie alone, too short for one with a
//! Server Cookie). Such a request gets FORMERR, which the handler sends with
//! an OPT record, because a responder must include one when the request had one (RFC 6891
//! §6.1.1), and the OPT record tells the client that the server implements EDNS.
//!
//! A COOKIE option of a valid length is ignored and the request answered normally. This
//! server makes and checks no Server Cookies. RFC 7873 lets a server answer a request with
//! only a Client Cookie normally (§5.2.3, "Only a Client Cookie", choice 3), and treats a
//! Server Cookie it cannot accept the same way (§5.2.4, "A Client Cookie and an Invalid
//! Server Cookie").
//! NOTE: §5.2.3 also says that a server must, at least occasionally, send the client its
//! Server Cookie. This server never does, so clients see it as a server without cookie
//! support, which RFC 6891 §6.1.2 covers: an option a responder does not understand is
//! ignored.

use hickory_server::proto::op::Edns;
use hickory_server::proto::rr::rdata::opt::EdnsCode;

/// Length of a Client Cookie alone (RFC 7873 §4).
const CLIENT_COOKIE_LEN: usize = 8;
/// Shortest and longest COOKIE option with a Server Cookie of 8 to 32 bytes (RFC 7873 §4).
const WITH_SERVER_COOKIE_LEN: std::ops::RangeInclusive<usize> = 16..=40;

/// Returns whether the OPT record contains a COOKIE option of a length that RFC 7873
/// §5.2.2 calls malformed. Every COOKIE option is checked when a request repeats it.
pub(crate) fn has_malformed_cookie(edns: &Edns) -> bool {
    edns.options()
        .get_all(EdnsCode::Cookie)
        .into_iter()
        .any(|option| !valid_cookie_len(usize::from(option.len())))
}

fn valid_cookie_len(len: usize) -> bool {
    len == CLIENT_COOKIE_LEN || WITH_SERVER_COOKIE_LEN.contains(&len)
}

#[cfg(test)]
mod tests {
    use hickory_server::proto::rr::rdata::opt::EdnsOption;

    use super::*;

    fn edns_with(options: &[(u16, usize)]) -> Edns {
        let mut edns = Edns::new();
        for &(code, len) in options {
            edns.options_mut()
                .insert(EdnsOption::Unknown(code, vec![0xa5; len]));
        }
        edns
    }

    #[test]
    fn cookie_lengths() {
        for len in 0..=64 {
            let expected = !(len == 8 || (16..=40).contains(&len));
            let edns = edns_with(&[(10, len)]);
            assert_eq!(has_malformed_cookie(&edns), expected, "length {len}");
        }
    }

    #[test]
    fn other_options_and_repeats() {
        let cases: [(&[(u16, usize)], bool); 6] = [
            (&[], false),
            // NSID (3) and an unassigned code of any length are not cookies.
            (&[(3, 0), (65001, 7)], false),
            (&[(3, 0), (10, 8)], false),
            (&[(10, 8), (10, 24)], false),
            (&[(10, 8), (10, 7)], true),
            (&[(10, 41), (3, 0)], true),
        ];
        for (options, expected) in cases {
            let edns = edns_with(options);
            assert_eq!(has_malformed_cookie(&edns), expected, "options {options:?}");
        }
    }
}
