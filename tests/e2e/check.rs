//! `dnsbl check`: validation without serving.

use crate::support::{binary, repo_zones};

/// Runs `dnsbl check` and returns (success, stdout, stderr).
pub fn check(zones: &std::path::Path, db: &std::path::Path) -> (bool, String, String) {
    check_with(zones, db, &[], &[])
}

#[test]
fn check_reports_the_snapshot_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dnsbl.sqlite");

    // No database yet: the first start is rehearsed and nothing is left behind.
    let (ok, stdout, stderr) = check(&repo_zones(), &db);
    assert!(ok, "check failed: {stdout}{stderr}");
    assert!(
        stdout.contains("2 zones (bl.example, dbl.example)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("17 listings, 375 address segments, 12 domains"),
        "{stdout}"
    );
    assert!(stdout.ends_with("ok\n"), "{stdout}");
    assert!(!db.exists(), "check must not create the database");

    // A file that is not a database is named in the error, and left as it was.
    std::fs::write(&db, "not a database").unwrap();
    let (ok, _, stderr) = check(&repo_zones(), &db);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("{} is not a SQLite database", db.display())),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&db).unwrap(), "not a database");

    // A broken register names the file, the entry and the value.
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    std::fs::copy(repo_zones().join("zones.toml"), zones.join("zones.toml")).unwrap();
    let register = std::fs::read_to_string(repo_zones().join("register.toml"))
        .unwrap()
        .replace("code = \"127.0.0.3\"", "code = \"127.0.0.300\"");
    std::fs::write(zones.join("register.toml"), register).unwrap();
    let (ok, _, stderr) = check(&zones, &dir.path().join("other.sqlite"));
    assert!(!ok);
    assert!(
        stderr.contains(
            "register.toml: category \"problem-mail-platform\": invalid code \"127.0.0.300\""
        ),
        "{stderr}"
    );
}

/// An unknown TXT placeholder, and `{lookup_url}` in a zone without a URL, are rejected
/// with the file, the entry and the placeholder.
#[test]
fn check_rejects_bad_templates() {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    std::fs::copy(repo_zones().join("zones.toml"), zones.join("zones.toml")).unwrap();
    let original = std::fs::read_to_string(repo_zones().join("register.toml")).unwrap();
    let cases = [
        (
            "{provider} ({source}) is a registered spam operation",
            "{provider} ({source}) is a registered spam operation, see {lookup_link}",
            "register.toml: category \"spam-operation\": unknown placeholder {lookup_link} \
             in txt",
        ),
        (
            "{provider} ({source}) is a registered spam operation",
            "{provider} ({source}) is a registered spam operation, see {lookup_url}",
            "zones.toml: zone \"bl.example\": serves category \"spam-operation\", whose txt \
             in ",
        ),
    ];
    for (from, to, expected) in cases {
        let register = original.replace(from, to);
        assert_ne!(register, original, "the register contains {from:?}");
        std::fs::write(zones.join("register.toml"), register).unwrap();
        let (ok, stdout, stderr) = check(&zones, &dir.path().join("dnsbl.sqlite"));
        assert!(!ok, "check passed with {to:?}: {stdout}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}

/// Runs `dnsbl check` with extra arguments and environment variables and returns
/// (success, stdout, stderr).
fn check_with(
    zones: &std::path::Path,
    db: &std::path::Path,
    args: &[&str],
    env: &[EnvVar],
) -> (bool, String, String) {
    let output = binary()
        .arg("check")
        .arg("--zones")
        .arg(zones)
        .arg("--db")
        .arg(db)
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("dnsbl check runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// An environment variable as (name, value).
type EnvVar<'a> = (&'a str, &'a str);

const DEFAULT_RANGE_LIMITS: &str =
    "range limits: routing rows and netblocks up to IPv4 /6, IPv6 /16";
const WIDE_RANGE_LIMITS: &str = "range limits: off, ranges of any width pass";

/// A netblock wider than the range limit fails `check` as it fails `serve`, and the flags
/// and variables that let `serve` take it let `check` pass it.
#[test]
fn check_applies_serve_range_limits() {
    let dir = tempfile::tempdir().unwrap();
    let zones = crate::bad_input::copy_zones(dir.path());
    let db = dir.path().join("dnsbl.sqlite");
    let first = crate::bad_input::ingest(&zones, &db, &crate::bad_input::slices());
    assert!(first.status.success(), "first ingest: {first:?}");
    let (ok, stdout, stderr) = check_with(&zones, &db, &[], &[]);
    assert!(ok, "check failed: {stdout}{stderr}");
    assert!(
        stdout.lines().any(|line| line == DEFAULT_RANGE_LIMITS),
        "{stdout}"
    );

    let register = zones.join("register.toml");
    let text = std::fs::read_to_string(&register).unwrap();
    let wide = "[[provider]]\nname = \"Wide Example\"\ncategory = \"bad-service-provider\"\n\
                netblocks = [\"8.0.0.0/5\"]\n";
    std::fs::write(&register, format!("{text}\n{wide}")).unwrap();
    let expected = "register.toml: provider \"Wide Example\": netblock 8.0.0.0/5: range is \
                    wider than the maximum IPv4 size /6";
    let (ok, stdout, stderr) = check_with(&zones, &db, &[], &[]);
    assert!(!ok, "check passed: {stdout}");
    assert!(stderr.contains(expected), "{stderr}");
    let served = crate::bad_input::serve_until_exit(&zones, &db);
    let serve_stderr = String::from_utf8_lossy(&served.stderr);
    assert_eq!(served.status.code(), Some(1), "{serve_stderr}");
    assert!(serve_stderr.contains(expected), "{serve_stderr}");

    let narrower = "range limits: routing rows and netblocks up to IPv4 /5, IPv6 /16";
    let passing: [(&[&str], &[EnvVar], &str); 8] = [
        (&["--max-prefix-v4", "5"], &[], narrower),
        (&[], &[("DNSBL_MAX_PREFIX_V4", "5")], narrower),
        (&["--allow-wide-ranges"], &[], WIDE_RANGE_LIMITS),
        (
            &[],
            &[("DNSBL_ALLOW_WIDE_RANGES", "true")],
            WIDE_RANGE_LIMITS,
        ),
        (
            &[],
            &[("DNSBL_ALLOW_WIDE_RANGES", "TRUE")],
            WIDE_RANGE_LIMITS,
        ),
        (&[], &[("DNSBL_ALLOW_WIDE_RANGES", "1")], WIDE_RANGE_LIMITS),
        (
            &[],
            &[("DNSBL_ALLOW_WIDE_RANGES", "yes")],
            WIDE_RANGE_LIMITS,
        ),
        (&[], &[("DNSBL_ALLOW_WIDE_RANGES", "On")], WIDE_RANGE_LIMITS),
    ];
    for (args, env, limits) in passing {
        let (ok, stdout, stderr) = check_with(&zones, &db, args, env);
        assert!(ok, "{args:?} {env:?}: check failed: {stdout}{stderr}");
        assert!(
            stdout.lines().any(|line| line == limits),
            "{args:?} {env:?}: {stdout}"
        );
        assert!(stdout.ends_with("ok\n"), "{args:?} {env:?}: {stdout}");
    }

    // A false or empty variable keeps the limit, and a value that is not a boolean is an
    // error that names it.
    for value in ["0", "no", "False", "off", ""] {
        let env: &[EnvVar] = &[("DNSBL_ALLOW_WIDE_RANGES", value)];
        let (ok, stdout, stderr) = check_with(&zones, &db, &[], env);
        assert!(!ok, "{value:?}: check passed: {stdout}");
        assert!(stderr.contains(expected), "{value:?}: {stderr}");
    }
    let env: &[EnvVar] = &[("DNSBL_ALLOW_WIDE_RANGES", "maybe")];
    let (ok, _, stderr) = check_with(&zones, &db, &[], env);
    assert!(!ok, "\"maybe\" was accepted");
    assert!(
        stderr.starts_with(
            "error: invalid value 'maybe' for '--allow-wide-ranges': value was not a boolean\n"
        ),
        "{stderr}"
    );

    // The variable that lets check pass lets serve start and list the netblock.
    let mut command = binary();
    command.env("DNSBL_MAX_PREFIX_V4", "5");
    let server = crate::support::Server::start_command(command, &zones, &db, &[]);
    let response = crate::support::query_udp(
        server.addr,
        "1.0.0.8.bl.example.",
        hickory_proto::rr::RecordType::A,
    );
    assert_eq!(crate::support::a_values(&response), ["127.0.0.2"]);
}

/// The systemd unit runs check and serve with the same environment and no flags, and the
/// settings file names the range limit variables that both take.
#[test]
fn unit_gives_check_and_serve_same_limits() {
    let deploy = repo_zones().join("../deploy");
    let unit = std::fs::read_to_string(deploy.join("dnsbl.service")).unwrap();
    let command = |key: &str| -> Vec<String> {
        let prefix = format!("{key}=");
        let lines: Vec<&str> = unit
            .lines()
            .filter_map(|line| line.strip_prefix(prefix.as_str()))
            .collect();
        assert_eq!(lines.len(), 1, "{key} lines: {lines:?}");
        lines[0].split_whitespace().map(str::to_string).collect()
    };
    assert_eq!(command("ExecStartPre"), ["/usr/local/bin/dnsbl", "check"]);
    assert_eq!(command("ExecStart"), ["/usr/local/bin/dnsbl", "serve"]);

    let settings = std::fs::read_to_string(deploy.join("dnsbl.default")).unwrap();
    let help = |subcommand: &str| {
        let output = binary().args([subcommand, "--help"]).output().unwrap();
        assert!(output.status.success(), "{subcommand} --help: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let (check_help, serve_help) = (help("check"), help("serve"));
    for variable in [
        "DNSBL_MAX_PREFIX_V4",
        "DNSBL_MAX_PREFIX_V6",
        "DNSBL_ALLOW_WIDE_RANGES",
    ] {
        assert!(
            settings.contains(&format!("#{variable}=")),
            "dnsbl.default lacks {variable}"
        );
        let env = format!("[env: {variable}=");
        assert!(check_help.contains(&env), "check --help lacks {variable}");
        assert!(serve_help.contains(&env), "serve --help lacks {variable}");
    }
}

/// A database without routing data (after `dnsbl token create`, say) gets the bundled data
/// on serve's first start, so check rehearses that ingest with the same range limits. An
/// empty file, which serve sets up, lacks every migration: check applies them to a copy.
#[test]
fn check_new_database_rehearsed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tokens.sqlite");
    crate::admin::create_token(&db, "ops", "admin");
    // The serial of a new database comes from the clock.
    let snapshot_line = ", 17 listings, 375 address segments, 12 domains";

    let (ok, stdout, stderr) = check(&repo_zones(), &db);
    assert!(ok, "check failed: {stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "{}: no routing data yet, which `dnsbl serve` ingests from ",
            db.display()
        )),
        "{stdout}"
    );
    assert!(has_snapshot_line(&stdout, snapshot_line), "{stdout}");

    let narrow = [("DNSBL_MAX_PREFIX_V4", "16")];
    let (ok, stdout, stderr) = check_with(&repo_zones(), &db, &[], &narrow);
    assert!(!ok, "check passed: {stdout}");
    assert!(
        stderr.contains("range is wider than the maximum IPv4 size /16"),
        "{stderr}"
    );

    let empty = dir.path().join("empty.sqlite");
    std::fs::write(&empty, b"").unwrap();
    let (ok, stdout, stderr) = check(&repo_zones(), &empty);
    assert!(ok, "check failed: {stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "{}: migrations not applied yet (1 initial schema, ",
            empty.display()
        )),
        "{stdout}"
    );
    assert!(has_snapshot_line(&stdout, snapshot_line), "{stdout}");
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
}

/// Returns whether `stdout` of check contains its snapshot summary line ending in `suffix`.
pub fn has_snapshot_line(stdout: &str, suffix: &str) -> bool {
    stdout
        .lines()
        .any(|line| line.starts_with("snapshot: serial ") && line.ends_with(suffix))
}
