//! The route-path grammar against axum itself.
//!
//! The input is two lines, each `METHOD /path`. Properties:
//! - `validate_route_path` never panics;
//! - a path it accepts, axum accepts (`Router::route` panics on what it refuses, which would
//!   be a finding);
//! - two accepted routes that `route_conflict` finds compatible can share one router.
#![no_main]

use auth_grammar::{METHODS, route_conflict, validate_route_path};
use axum::Router;
use axum::routing::{MethodFilter, on};
use libfuzzer_sys::fuzz_target;

fn filter(method: &str) -> MethodFilter {
    match method {
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        "HEAD" => MethodFilter::HEAD,
        "OPTIONS" => MethodFilter::OPTIONS,
        "TRACE" => MethodFilter::TRACE,
        "CONNECT" => MethodFilter::CONNECT,
        _ => MethodFilter::GET,
    }
}

fn parse(line: &str) -> (&'static str, &str) {
    match line.split_once(' ') {
        Some((method, path)) => (
            METHODS
                .iter()
                .copied()
                .find(|m| *m == method)
                .unwrap_or("GET"),
            path,
        ),
        None => ("GET", line),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (first, second) = text.split_once('\n').unwrap_or((&text, ""));
    let (method_a, path_a) = parse(first);
    let (method_b, path_b) = parse(second);
    let ok_a = validate_route_path(path_a).is_ok();
    let ok_b = validate_route_path(path_b).is_ok();
    let _ = route_conflict(method_a, path_a, method_b, path_b);
    if !ok_a {
        return;
    }
    let _: Router = Router::new().route(path_a, on(filter(method_a), || async {}));
    if ok_b && route_conflict(method_a, path_a, method_b, path_b).is_none() {
        let _: Router = Router::new()
            .route(path_a, on(filter(method_a), || async {}))
            .route(path_b, on(filter(method_b), || async {}));
    }
});
