//! glibc malloc settings for `dnsbl serve`, applied by executing the binary again.
//!
//! When glibc's malloc frees a block it had taken with mmap, it raises its mmap threshold
//! to that block's size (up to 32 MiB) and its trim threshold to twice that (the dynamic
//! mmap threshold of glibc's malloc.c). After the first snapshot load has freed its decoded
//! blob, the next tables therefore come from the heap, and the memory of a replaced
//! snapshot stays in the process. With the full IP-to-ASN dataset that measured 80 MiB
//! resident after the load instead of 40 MiB, and 175 MiB or more after three reloads
//! (docs/benchmarks.md). Fixed thresholds and one arena avoid it. glibc reads these
//! variables only when the process starts, and `mallopt` needs `unsafe`, so `serve` sets
//! them and executes itself again, once, when none of them is set.
//!
//! NOTE: a tool that runs the binary and does not follow `execve` (valgrind without
//! `--trace-children=yes`) loses the process at that point, so set one of the variables
//! when running `serve` under such a tool, as `bench/bench.py` does.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use anyhow::Context;

/// The variables and values set for the new process, as `deploy/dnsbl.service` sets them.
const SETTINGS: [(&str, &str); 3] = [
    ("MALLOC_ARENA_MAX", "1"),
    ("MALLOC_TRIM_THRESHOLD_", "131072"),
    ("MALLOC_MMAP_THRESHOLD_", "131072"),
];

/// Variables whose presence means that the malloc settings were chosen already: by the
/// operator, the unit file or an earlier execution of this function.
const CHOSEN: [&str; 4] = [
    "MALLOC_ARENA_MAX",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "GLIBC_TUNABLES",
];

/// Executes the running binary again with the glibc malloc settings of [`SETTINGS`] and
/// the same arguments, unless one of the [`CHOSEN`] variables is set. Returns `Ok` without
/// executing anything when the settings were chosen already, and the error when the
/// execution failed (the process then goes on with glibc's defaults).
pub fn reexec_with_settings() -> anyhow::Result<()> {
    if !cfg!(target_env = "gnu") || CHOSEN.iter().any(|name| std::env::var_os(name).is_some()) {
        return Ok(());
    }
    let program =
        std::env::current_exe().context("failed to find the path of the running binary")?;
    let arguments: Vec<OsString> = std::env::args_os().skip(1).collect();
    let error = std::process::Command::new(&program)
        .args(arguments)
        .envs(SETTINGS)
        .exec();
    Err(error).with_context(|| format!("failed to execute {} again", program.display()))
}
