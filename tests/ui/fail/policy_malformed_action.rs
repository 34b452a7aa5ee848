use auth_runtime::prelude::*;

#[policy(action = "ban", resource = "users")]
#[route(POST, "/admin/users/{user_id}/ban")]
async fn ban_user() {}

fn main() {}
