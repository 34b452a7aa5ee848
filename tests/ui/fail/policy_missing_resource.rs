use auth_runtime::prelude::*;

#[policy(action = "users:ban")]
#[route(POST, "/admin/users/{user_id}/ban")]
async fn ban_user() {}

fn main() {}
