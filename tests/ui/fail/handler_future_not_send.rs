// A handler's future must be `Send`: the error names the value held across `.await`.
use std::rc::Rc;

use auth_runtime::prelude::*;

async fn fetch() {}

#[requires("reports:read")]
#[route(GET, "/reports")]
async fn list_reports() -> String {
    let cache = Rc::new(7);
    fetch().await;
    cache.to_string()
}

fn main() {}
