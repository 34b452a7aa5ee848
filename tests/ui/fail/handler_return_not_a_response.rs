// The return type must be a response; the error is on the return type.
use auth_runtime::prelude::*;

struct Report {
    id: u64,
}

#[requires("reports:read")]
#[route(GET, "/report")]
async fn get_report() -> Report {
    Report { id: 7 }
}

fn main() {
    let _ = get_report;
    let _ = Report { id: 1 }.id;
}
