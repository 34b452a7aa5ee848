use auth_runtime::prelude::*;

#[requires("reports:read")]
struct Report;

fn main() {}
