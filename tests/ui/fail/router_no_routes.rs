use auth_runtime::prelude::*;

#[derive(SecureRouter)]
#[secure_router(routes())]
struct Api;

fn main() {}
