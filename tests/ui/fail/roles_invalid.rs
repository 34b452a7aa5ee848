// Check `#[roles]`: it needs at least one role, roles cannot be empty or repeated, and it
// cannot be combined with `#[public]`.
use auth_runtime::prelude::*;

#[roles()]
async fn no_role() {}

#[roles("editor", "", "editor")]
async fn bad_roles() {}

#[public]
#[roles("editor")]
async fn public_with_roles() {}

fn main() {}
