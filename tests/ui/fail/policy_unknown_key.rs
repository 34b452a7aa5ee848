use auth_runtime::prelude::*;

#[policy(actoin = "users:ban", resource = "users")]
#[route(POST, "/admin/users/{user_id}/ban")]
async fn ban_user() {}

fn main() {}
