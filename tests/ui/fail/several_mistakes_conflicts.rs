// Conflicting and duplicate attributes are reported together with every other mistake.
use auth_runtime::prelude::*;

#[public] // conflicts with `requires`, `login_type` and `authenticated`
#[authenticated] // redundant next to `requires` and `login_type`
#[login_type("admin")]
#[login_type("user")] // a second `login_type`
#[requires("reports:read", "reports:read")] // a scope listed twice
#[route(FETCH, "reports")] // an unknown method, a path without `/`
fn get_report() {} // not `async`

fn main() {}
