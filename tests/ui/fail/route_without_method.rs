use auth_runtime::prelude::*;

#[public]
#[route("/health")]
async fn health() {}

fn main() {}
