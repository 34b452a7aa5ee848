//! The route grammar the macros check at compile time agrees with what axum accepts when the
//! router is built: for every path and pair of routes below, our verdict and axum's (does
//! `Router::route` panic?) are compared, so an axum upgrade that changes the rules fails here.

use std::panic::{AssertUnwindSafe, catch_unwind};

use auth_grammar::{route_conflict, validate_route_path};
use axum::routing::{MethodFilter, on};

/// Whether axum builds a router with these routes (in this order) without panicking.
fn axum_accepts(routes: &[(&str, &str)]) -> bool {
    catch_unwind(AssertUnwindSafe(|| {
        let mut router: axum::Router = axum::Router::new();
        for (method, path) in routes {
            let filter = match *method {
                "GET" => MethodFilter::GET,
                "POST" => MethodFilter::POST,
                _ => MethodFilter::DELETE,
            };
            router = router.route(path, on(filter, || async {}));
        }
        router
    }))
    .is_ok()
}

#[test]
fn single_paths_agree_with_axum() {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut disagreements = Vec::new();
    for path in [
        "/",
        "/health",
        "/reports/{id}",
        "/a/{x}/b/{y}",
        "/files/{*rest}",
        "/files/x{*rest}",
        "/img-{id}",
        "/{{literal}}/{id}",
        "/a{{b}}c",
        "/{{{id}",
        "/a/}}{id}",
        "/{{*rest}}",
        "/a/",
        "/a/{id}.png",
        "/a/{id}-{name}",
        "/a/{id",
        "/a}",
        "/a{",
        "/a/{}",
        "/a/{x}/{x}",
        "/a/{*x}/b",
    ] {
        let ours = validate_route_path(path).is_ok();
        let axum = axum_accepts(&[("GET", path)]);
        // Stricter on purpose: axum builds it, but a struct or map `Path` extractor cannot
        // tell the two captures apart.
        let stricter_on_purpose = path == "/a/{x}/{x}" && !ours;
        if ours != axum && !stricter_on_purpose {
            disagreements.push(format!("{path}: ours {ours}, axum {axum}"));
        }
    }
    std::panic::set_hook(quiet);
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn route_pairs_agree_with_axum() {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut disagreements = Vec::new();
    for (a, b) in [
        (("GET", "/files/{id}"), ("GET", "/files/{*rest}")),
        (("GET", "/files/{id}"), ("POST", "/files/{*rest}")),
        (("GET", "/files/{*rest}"), ("POST", "/files/{id}")),
        (("GET", "/files/{id}/x"), ("POST", "/files/{*rest}")),
        (
            ("GET", "/u/{a}/files/{id}"),
            ("POST", "/u/{b}/files/{*rest}"),
        ),
        (("GET", "/{id}"), ("POST", "/{*rest}")),
        (("GET", "/img-{id}"), ("POST", "/img-{*r}")),
        (("GET", "/x/img-{id}"), ("POST", "/x/{*r}")),
        (("GET", "/files/a{id}"), ("POST", "/files/{*rest}")),
        (("GET", "/files/a"), ("POST", "/files/{*rest}")),
        (("GET", "/files/{*rest}"), ("POST", "/files/a/{id}")),
        (("GET", "/files/img-{id}"), ("GET", "/files/{name}")),
        (("GET", "/files/img-{id}"), ("POST", "/files/img-{name}")),
        (("GET", "/a/{id}"), ("POST", "/a/{name}")),
        (("GET", "/a/{id}"), ("POST", "/a/{id}")),
        (("GET", "/a/{id}/b"), ("POST", "/a/{name}/c")),
        (("GET", "/a/{id}"), ("POST", "/a/{name}/c")),
        (("GET", "/a/{*p}"), ("POST", "/a/{*q}")),
        (("GET", "/a/{*p}"), ("GET", "/a/{*q}")),
        (("GET", "/x/{id}"), ("GET", "/x/{id}")),
        (("GET", "/x/{id}"), ("GET", "/x/{ID}")),
        (("GET", "/{{x}}"), ("GET", "/{x}")),
        // Doubled braces are literal text, never a capture: `/{{x}}` is the path `/{x}`.
        (("GET", "/{{x}}"), ("GET", "/{{y}}")),
        (("GET", "/{{x}}"), ("POST", "/{{y}}")),
        (("GET", "/{{x}}"), ("POST", "/{{*y}}")),
        (("GET", "/{{x}}"), ("GET", "/{{x}}")),
        (("GET", "/a/}}{x}"), ("GET", "/a/}}{y}")),
        (("GET", "/a/}}{x}"), ("POST", "/a/}}{y}")),
        (("GET", "/a/{{{x}"), ("POST", "/a/{{{*y}")),
        (("GET", "/a/{{{x}"), ("POST", "/a/{{{y}")),
        (("GET", "/a/{{{x}"), ("GET", "/a/{x}")),
        (("GET", "/"), ("POST", "/{*rest}")),
        (("GET", "/a"), ("POST", "/a/")),
    ] {
        let ours = route_conflict(a.0, a.1, b.0, b.1).is_none();
        let axum = axum_accepts(&[a, b]);
        if ours != axum {
            disagreements.push(format!("{a:?} + {b:?}: ours {ours}, axum {axum}"));
        }
    }
    std::panic::set_hook(quiet);
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}
