//! In-memory throttle budgets stay bounded whatever the limits (a `u32::MAX` budget, as the
//! password-change budget once had for addresses) and however many keys: live heap bytes are
//! counted with a global allocator in this test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicIsize, Ordering};

use auth_runtime::throttle::{Charge, MemoryThrottleStore, ThrottleKey, ThrottleStore};
use auth_runtime::throttle::{LoginThrottle, ThrottleConfig};

struct Counting;

/// Bytes allocated and not yet freed.
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: delegates every call to the system allocator unchanged; it only counts.
#[allow(
    unsafe_code,
    reason = "a counting allocator is the only way to measure live heap bytes"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

fn unlimited() -> ThrottleConfig {
    let mut config = ThrottleConfig::default();
    config.account_failures = u32::MAX;
    config.address_failures = u32::MAX;
    config.registrations = u32::MAX;
    config.max_tracked = 1000;
    config
}

// One test function: the allocator counts every thread of the binary, so nothing else may run
// at the same time.
#[tokio::test(flavor = "current_thread")]
async fn throttle_memory_is_bounded_with_u32_max_budgets_and_many_keys() {
    let throttle = LoginThrottle::new(unlimited());
    let ip = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    // Warm up (first allocations of the maps).
    for _ in 0..10 {
        throttle
            .admit_login("ann@example.com", ip)
            .await
            .unwrap()
            .failed();
        throttle.admit_password_change("7").await.unwrap().failed();
        throttle.admit_registration(ip).await.unwrap();
    }
    let before = live();
    // 100 000 failures of one pair, one account's password changes, one address's
    // registrations, all under u32::MAX budgets: no memory per attempt.
    for _ in 0..100_000 {
        throttle
            .admit_login("ann@example.com", ip)
            .await
            .unwrap()
            .failed();
        throttle.admit_password_change("7").await.unwrap().failed();
        throttle.admit_registration(ip).await.unwrap();
    }
    let grown = live() - before;
    assert!(grown < 4096, "{grown} bytes for 300 000 attempts on 4 keys");

    // 50 000 accounts from 50 000 addresses (IPv4 and distinct IPv6 /64s): every budget
    // stays within max_tracked (1000) keys, so memory levels off.
    let mut peak_after_fill = 0;
    for i in 0..50_000u32 {
        let address = if i % 2 == 0 {
            IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
        } else {
            IpAddr::V6(Ipv6Addr::from(u128::from(i) << 64))
        };
        let account = format!("user{i}@example.com");
        throttle
            .admit_login(&account, Some(address))
            .await
            .unwrap()
            .failed();
        throttle.admit_registration(Some(address)).await.unwrap();
        if i == 25_000 {
            peak_after_fill = live();
        }
    }
    let after = live();
    // Four buckets of at most 1000 fixed-size counters: well under a megabyte, and no growth
    // once full.
    assert!(after - before < 1 << 20, "{} bytes", after - before);
    assert!(
        after - peak_after_fill < 64 * 1024,
        "grew {} bytes after the buckets filled up",
        after - peak_after_fill
    );

    // The store directly: 200 000 distinct keys in one bucket, u32::MAX limits.
    let store = MemoryThrottleStore::new(1000);
    for i in 0..200_000u64 {
        let charge = [Charge::new(
            ThrottleKey::new("b", &i.to_string()),
            u32::MAX,
            std::time::Duration::from_secs(3600),
        )];
        store.admit(&charge, 1_700_000_000_000 + i).await.unwrap();
        assert!(store.tracked_keys() <= 1000);
    }
}
