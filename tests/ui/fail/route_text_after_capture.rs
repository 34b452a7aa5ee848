// axum allows text before a capture in a segment, not after it.
use auth_runtime::prelude::*;

#[public]
#[route(GET, "/images/{id}.png")]
async fn image() {}

fn main() {}
