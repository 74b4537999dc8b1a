//! A snapshot built from the input, written as master files and rbldnsd data files, and
//! each master file parsed back: must never panic, and the parsed record count must match.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = dnsbl_export::fuzz_entry::export_round_trip(data);
});
