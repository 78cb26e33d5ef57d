//! The architecture's first invariant: otto-core pulls in no database, HTTP, Redis or
//! server crate, directly or transitively.

use std::process::Command;

/// Crate names (or prefixes) that mean I/O has leaked into the domain.
const FORBIDDEN: &[&str] = &[
    "sea-orm",
    "sea-query",
    "sqlx",
    "postgres",
    "tokio-postgres",
    "rusqlite",
    "libsqlite3-sys",
    "diesel",
    "fred",
    "redis",
    "reqwest",
    "hyper",
    "http",
    "h2",
    "poem",
    "axum",
    "actix-web",
    "tower",
    "warp",
    "tonic",
    "tokio",
];

#[test]
fn otto_core_depends_on_no_io_crate() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--manifest-path",
            manifest,
            "-p",
            "otto-core",
        ])
        .args(["-e", "normal", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8(output.stdout).expect("utf-8 output");
    let crate_names: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        crate_names.contains(&"otto-core"),
        "tree lists otto-core itself: {tree}"
    );
    let leaked: Vec<&&str> = crate_names
        .iter()
        .filter(|name| {
            FORBIDDEN
                .iter()
                .any(|forbidden| name == &forbidden || name.starts_with(&format!("{forbidden}-")))
        })
        .collect();
    assert!(leaked.is_empty(), "otto-core must not depend on {leaked:?}");
}
