//! Compile tests of the macro surface (docs/architecture.md §2): `tests/ui/pass` must compile,
//! every file in `tests/ui/fail` must fail with exactly the `.stderr` beside it.
//!
//! The `.stderr` files are the user-facing error messages; regenerate them with
//! `TRYBUILD=overwrite cargo test -p tests --test ui` and review the diff like code.

use std::process::Command;

/// The compiler the `.stderr` files were written with. rustc's diagnostics change between
/// releases, so on another compiler every fail case could differ for reasons unrelated to the
/// macros: refuse to run rather than report noise (as darling's `compiletests.rs` does).
const PINNED_RUSTC: &str = "rustc 1.95.";

/// Set this variable to run the cases on another compiler anyway (expect `.stderr` mismatches).
const ANY_RUSTC: &str = "AUTH_UI_ANY_RUSTC";

#[test]
fn ui() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|e| format!("<`{rustc} --version` failed: {e}>"));
    if !version.starts_with(PINNED_RUSTC) && std::env::var_os(ANY_RUSTC).is_none() {
        panic!(
            "the ui tests' .stderr files were written for {PINNED_RUSTC}x, but this is {version}; \
             install that toolchain, or set {ANY_RUSTC}=1 to run them anyway"
        );
    }

    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
