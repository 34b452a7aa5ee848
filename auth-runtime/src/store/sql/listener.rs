//! The PostgreSQL revocation [`Listener`]: `LISTEN` on its own connection, turning each
//! notification into a wake-up of the instance's revocation pollers.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::pool::ACQUIRE_TIMEOUT;
use crate::store::{RevocationWaiter, RevocationWakeup};

/// The channel of revocation notifications (PostgreSQL).
const REVOCATION_CHANNEL: &str = "auth_revocations";

/// A store's PostgreSQL revocation listener: started by the first
/// [`SessionStore::revocation_wakeups`](crate::store::SessionStore::revocation_wakeups), on
/// its own connection (outside the pool, so that closing the pool never waits for it), stopped
/// by [`SqlStore::close`](super::SqlStore::close) or with the last clone.
pub(super) struct Listener {
    options: PgConnectOptions,
    started: Mutex<Option<(RevocationWakeup, tokio::task::AbortHandle)>>,
}

impl Listener {
    /// A listener that will connect with `options` once subscribed to.
    pub(super) fn new(options: PgConnectOptions) -> Listener {
        Listener {
            options,
            started: Mutex::new(None),
        }
    }

    pub(super) fn subscribe(&self) -> Option<RevocationWaiter> {
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        if started.is_none() {
            let runtime = tokio::runtime::Handle::try_current().ok()?;
            let wakeup = RevocationWakeup::new();
            let task = runtime.spawn(listen_for_revocations(self.options.clone(), wakeup.clone()));
            *started = Some((wakeup, task.abort_handle()));
        }
        started.as_ref().map(|(wakeup, _)| wakeup.subscribe())
    }

    pub(super) fn stop(&self) {
        if let Some((_, task)) = self
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Wakes the pollers on every notification, and whenever the connection was (re)established:
/// what was recorded while nobody listened is read then. Failures only cost latency (the
/// pollers still poll), so they are logged at debug level and retried every second.
async fn listen_for_revocations(options: PgConnectOptions, wakeup: RevocationWakeup) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options);
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(REVOCATION_CHANNEL).await {
                Ok(()) => {
                    wakeup.wake();
                    loop {
                        match listener.try_recv().await {
                            // `None`: the connection was lost; the next call reconnects.
                            Ok(_) => wakeup.wake(),
                            Err(e) => {
                                tracing::debug!(error = %e, "revocation listener lost its connection");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "revocation listener could not listen"),
            },
            Err(e) => tracing::debug!(error = %e, "revocation listener could not connect"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
