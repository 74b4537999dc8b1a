//! The IP-to-ASN CSV parser, read as a dotted IPv4 file and as a numeric IPv6 file (the
//! file name decides the family of decimal addresses).
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    for name in ["asn-ipv4.csv", "asn-ipv6-num.csv"] {
        let _ = dnsbl_ingest::parse_routing(data, Path::new(name));
    }
});
