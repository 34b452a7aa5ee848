// Scopes that look like roles, or use a dot instead of a colon, get the fix.
use auth_runtime::prelude::*;

#[requires("ROLE_ADMIN")]
#[route(GET, "/admin")]
async fn admin() {}

#[requires("reports.read")]
#[route(GET, "/reports")]
async fn reports() {}

fn main() {}
