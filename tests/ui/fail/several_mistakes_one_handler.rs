// Every mistake of one handler is reported in the same compile, each at its own token.
use auth_runtime::prelude::*;

#[requires("reports", "billing:*")] // no `:` in the first scope, a wildcard in the second
#[login_type("")] // an empty login type
#[policy(actoin = "users:ban")] // a misspelt key, and no `resource`
#[route(Get, "/reports/:id")] // a method in the wrong case, the old capture syntax
async fn get_report() {}

fn main() {}
