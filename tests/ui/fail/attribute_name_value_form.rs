// `#[login_type = "admin"]` is one error, not also "this handler has no auth attribute".
use auth_runtime::prelude::*;

#[login_type = "admin"]
#[route(GET, "/admin/dashboard")]
async fn dashboard() {}



// The same mistake on a later attribute: still one error.
#[route(GET, "/admin/users")]
#[login_type = "admin"]
async fn users() {}
fn main() {}
