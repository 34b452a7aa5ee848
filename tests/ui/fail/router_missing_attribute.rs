use auth_runtime::prelude::*;

#[derive(SecureRouter)]
struct Api;

fn main() {}
