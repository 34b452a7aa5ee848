// Positional arguments: one error that shows the named form with the same values.
use auth_runtime::prelude::*;

#[policy("users:ban", "users")]
#[route(POST, "/admin/users/{user_id}/ban")]
async fn ban_user() {}

fn main() {}
