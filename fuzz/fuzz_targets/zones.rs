//! zones.toml and register.toml: the input is the text of zones.toml, a NUL byte, and the
//! text of register.toml.
#![no_main]

use std::path::Path;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (zones, register) = text.split_once('\0').unwrap_or((&text, ""));
    let _ = dnsbl_config::ZonesDir::from_texts(Path::new("zones"), zones, register);
});
