//! Scope matching allocates nothing (counted with a global allocator in this test binary).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_runtime::{
    ActionHierarchy, GrantedScopes, HierarchicalScopes, ScopeValidator, SimpleScopes,
};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates every call to the system allocator unchanged; it only counts.
#[allow(
    unsafe_code,
    reason = "a counting allocator is the only way to prove zero allocations"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn scope_matching_allocates_nothing() {
    let hierarchical = HierarchicalScopes::new()
        .hierarchy(
            ActionHierarchy::new()
                .implies("admin", ["edit"])
                .implies("edit", ["read"]),
        )
        .allow_bare_wildcard(false);
    let granted = GrantedScopes::new("billing:read reports:x:* *:list users:admin other:thing");
    let required = [
        "reports:x:y",
        "billing:read",
        "users:read",
        "orders:list",
        "reports:read",
        "missing:scope",
    ];
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let mut granted_count = 0;
    for _ in 0..100 {
        for r in required {
            granted_count += usize::from(hierarchical.has_scope(r, granted));
            granted_count += usize::from(SimpleScopes.has_scope(r, granted));
        }
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(after - before, 0, "scope matching allocated");
    // hierarchical: reports:x:y, billing:read, users:read, orders:list; simple: billing:read
    assert_eq!(granted_count, 100 * 5);
}
