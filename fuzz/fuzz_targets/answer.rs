//! A raw packet decoded by hickory-proto, answered by `dnsbl_core::answer` and encoded
//! again: must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = dnsbl_core::fuzz_entry::answer_packet(data);
});
