//! [`BodyBudget`]: one byte budget shared by every connection for the request
//! bodies being read or processed at once, so many concurrent large bodies
//! cannot exhaust memory. A request reserves its declared `Content-Length`
//! before reading (or grows its reservation chunk by chunk when no length is
//! declared) and holds it until it is answered; when the budget is spent it
//! waits up to `limits.request_body_budget_wait_ms`, then gets 503.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One permit stands for this many bytes (so a `u32` permit count covers
/// terabytes).
const UNIT_BYTES: u64 = 1024;

/// The shared budget.
#[derive(Debug, Clone)]
pub(crate) struct BodyBudget {
    permits: Arc<Semaphore>,
    wait: Duration,
}

/// The budget stayed spent for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exhausted;

/// Bytes of the budget held by one request; returned when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    budget: BodyBudget,
    held: Option<OwnedSemaphorePermit>,
    units: u32,
}

fn units_for(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT_BYTES)).unwrap_or(u32::MAX)
}

impl BodyBudget {
    /// A budget of `bytes`; a reservation waits at most `wait` for room.
    pub(crate) fn new(bytes: u64, wait: Duration) -> BodyBudget {
        let units = usize::try_from(units_for(bytes))
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        BodyBudget {
            permits: Arc::new(Semaphore::new(units)),
            wait,
        }
    }

    /// An empty reservation (grow it with [`Reservation::cover`]).
    pub(crate) fn reservation(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: None,
            units: 0,
        }
    }

    /// Bytes currently free (rounded down to whole units).
    #[cfg(test)]
    pub(crate) fn available_bytes(&self) -> u64 {
        self.permits.available_permits() as u64 * UNIT_BYTES
    }
}

impl Reservation {
    /// Makes the reservation cover at least `bytes` in total, waiting (up to
    /// the budget's wait) for the missing part.
    pub(crate) async fn cover(&mut self, bytes: u64) -> Result<(), Exhausted> {
        let want = units_for(bytes);
        if want <= self.units {
            return Ok(());
        }
        let more = want - self.units;
        let acquire = self.budget.permits.clone().acquire_many_owned(more);
        let permit = match tokio::time::timeout(self.budget.wait, acquire).await {
            Ok(Ok(permit)) => permit,
            // Timed out, or the semaphore was closed (it never is).
            Ok(Err(_)) | Err(_) => return Err(Exhausted),
        };
        match &mut self.held {
            Some(held) => held.merge(permit),
            None => self.held = Some(permit),
        }
        self.units = want;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_share_one_budget_and_return_it_when_dropped() {
        let budget = BodyBudget::new(10 * 1024, Duration::from_millis(50));
        let mut a = budget.reservation();
        a.cover(6 * 1024).await.unwrap();
        a.cover(1).await.unwrap(); // already covered
        let mut b = budget.reservation();
        assert_eq!(b.cover(6 * 1024).await, Err(Exhausted));
        b.cover(4 * 1024).await.unwrap();
        assert_eq!(budget.available_bytes(), 0);
        // Growing one reservation needs room too.
        assert_eq!(a.cover(7 * 1024).await, Err(Exhausted));
        drop(b);
        a.cover(7 * 1024).await.unwrap();
        assert_eq!(budget.available_bytes(), 3 * 1024);
        drop(a);
        assert_eq!(budget.available_bytes(), 10 * 1024);
    }

    #[tokio::test]
    async fn a_waiting_reservation_gets_the_bytes_released_meanwhile() {
        let budget = BodyBudget::new(4 * 1024, Duration::from_secs(30));
        let mut first = budget.reservation();
        first.cover(4 * 1024).await.unwrap();
        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move {
                let mut r = budget.reservation();
                r.cover(4 * 1024).await.map(|()| r.units)
            })
        };
        tokio::task::yield_now().await;
        drop(first);
        assert_eq!(waiter.await.unwrap(), Ok(4));
    }
}
