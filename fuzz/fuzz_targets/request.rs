//! A raw packet read by the wire path's request parser and by hickory-proto: where the
//! wire parser accepts it, both must read the same query.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dnsbl_core::fuzz_entry::compare_request_parsers(data);
});
