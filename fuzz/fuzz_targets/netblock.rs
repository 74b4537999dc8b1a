//! The netblock syntax (`AddrRange::from_str`): a parsed range displays as text that
//! parses back to the same range.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        dnsbl_core::fuzz_entry::netblock_round_trip(text);
    }
});
