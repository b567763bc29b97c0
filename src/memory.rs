//! Memory admission: one budget for the whole isolate. Every request that needs wasm memory
//! (reading an upload, decoding) reserves it first; what does not fit is refused with a 503
//! instead of growing wasm memory past what the isolate may hold (128 MB, shared with the JS heap,
//! and wasm memory never shrinks). Single-threaded, like the Worker.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// One user's reservations may take at most this share of the budget (3/4), so a user whose
/// uploads trickle in cannot hold the memory everyone else needs.
pub const USER_SHARE: (u64, u64) = (3, 4);

/// The isolate-wide budget of reserved bytes.
#[derive(Debug, Default)]
pub struct Budget {
    limit: Cell<u64>,
    reserved: Cell<u64>,
    /// The most ever reserved at once (the memory tests compare it with what was allocated).
    peak: Cell<u64>,
    /// Bytes reserved per user, for reservations made on a user's behalf.
    by_user: RefCell<HashMap<i64, u64>>,
}

impl Budget {
    pub fn new(limit: u64) -> Rc<Self> {
        Rc::new(Self {
            limit: Cell::new(limit),
            ..Self::default()
        })
    }

    /// The configured limit; set once per request from the configuration.
    pub fn set_limit(&self, limit: u64) {
        self.limit.set(limit);
    }

    pub fn reserved(&self) -> u64 {
        self.reserved.get()
    }

    /// The most reserved at once since the budget was made (or `reset_peak`).
    pub fn peak(&self) -> u64 {
        self.peak.get()
    }

    pub fn reset_peak(&self) {
        self.peak.set(self.reserved.get());
    }

    /// Reserves `bytes` until the returned guard is dropped; `None` when they do not fit now.
    pub fn reserve(self: &Rc<Self>, bytes: u64) -> Option<Reservation> {
        self.reserve_as(None, bytes)
    }

    /// Reserves on behalf of `user` (when `Some`): also `None` when the user's reservations
    /// would pass their share of the limit.
    pub fn reserve_as(self: &Rc<Self>, user: Option<i64>, bytes: u64) -> Option<Reservation> {
        let mut reservation = Reservation {
            budget: Rc::clone(self),
            user,
            bytes: 0,
        };
        reservation.resize_to(bytes).then_some(reservation)
    }

    /// Bytes reserved on behalf of `user` now.
    pub fn reserved_by(&self, user: i64) -> u64 {
        self.by_user.borrow().get(&user).copied().unwrap_or(0)
    }

    fn user_limit(&self) -> u64 {
        self.limit.get() / USER_SHARE.1 * USER_SHARE.0
    }

    /// Moves the totals by `from` -> `to` bytes for `user`; `false` (unchanged) when growing
    /// does not fit.
    fn adjust(&self, user: Option<i64>, from: u64, to: u64) -> bool {
        let reserved = self.reserved.get().saturating_sub(from);
        let mut by_user = self.by_user.borrow_mut();
        let user_now = user.map(|u| by_user.get(&u).copied().unwrap_or(0).saturating_sub(from));
        if to > from {
            let fits_isolate = reserved
                .checked_add(to)
                .is_some_and(|total| total <= self.limit.get());
            let fits_user = user_now.is_none_or(|now| now.saturating_add(to) <= self.user_limit());
            if !(fits_isolate && fits_user) {
                return false;
            }
        }
        self.reserved.set(reserved + to);
        self.peak.set(self.peak.get().max(reserved + to));
        if let (Some(user), Some(now)) = (user, user_now) {
            if now + to == 0 {
                by_user.remove(&user);
            } else {
                by_user.insert(user, now + to);
            }
        }
        true
    }

    /// Whether `bytes` could ever fit (with nothing else in flight).
    pub fn could_fit(&self, bytes: u64) -> bool {
        bytes <= self.limit.get()
    }
}

/// Bytes held in the budget; released on drop, whatever path the request took.
#[derive(Debug)]
pub struct Reservation {
    budget: Rc<Budget>,
    user: Option<i64>,
    bytes: u64,
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Resizes this reservation to `total` bytes; `false` (and unchanged) when growing does not
    /// fit. Shrinking always succeeds.
    pub fn resize_to(&mut self, total: u64) -> bool {
        if !self.budget.adjust(self.user, self.bytes, total) {
            return false;
        }
        self.bytes = total;
        true
    }

    /// Whether a reservation of `total` bytes could ever be made for this one's owner (with
    /// nothing else in flight).
    pub fn could_ever_fit(&self, total: u64) -> bool {
        let limit = match self.user {
            Some(_) => self.budget.user_limit(),
            None => self.budget.limit.get(),
        };
        total <= limit
    }

    /// Grows this reservation by `extra` bytes (same rule as `resize_to`).
    pub fn grow_by(&mut self, extra: u64) -> bool {
        self.bytes
            .checked_add(extra)
            .is_some_and(|total| self.resize_to(total))
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.adjust(self.user, self.bytes, 0);
    }
}

/// The size of wasm linear memory now (0 natively, where there is no such thing).
pub fn wasm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_the_limit_and_are_released_on_drop() {
        let budget = Budget::new(100);
        let a = budget.reserve(60).unwrap();
        assert!(budget.reserve(50).is_none());
        let b = budget.reserve(40).unwrap();
        assert_eq!(budget.reserved(), 100);
        drop(a);
        assert_eq!(budget.reserved(), 40);
        drop(b);
        assert_eq!(budget.reserved(), 0);
    }

    #[test]
    fn a_reservation_grows_only_when_the_rest_fits_and_always_shrinks() {
        let budget = Budget::new(100);
        let mut a = budget.reserve(30).unwrap();
        let _b = budget.reserve(50).unwrap();
        assert!(!a.resize_to(60));
        assert_eq!(budget.reserved(), 80);
        assert!(a.resize_to(50));
        assert_eq!((a.bytes(), budget.reserved()), (50, 100));
        assert!(a.resize_to(10));
        assert_eq!((a.bytes(), budget.reserved()), (10, 60));
    }

    #[test]
    fn one_user_may_reserve_only_their_share_and_others_still_fit() {
        let budget = Budget::new(100);
        let a = budget.reserve_as(Some(1), 50).unwrap();
        assert!(budget.reserve_as(Some(1), 30).is_none());
        let mut b = budget.reserve_as(Some(1), 25).unwrap();
        assert!(!b.grow_by(1));
        assert!(!b.could_ever_fit(76));
        let c = budget.reserve_as(Some(2), 25).unwrap();
        assert_eq!((budget.reserved_by(1), budget.reserved_by(2)), (75, 25));
        drop((a, b, c));
        assert_eq!((budget.reserved(), budget.reserved_by(1)), (0, 0));
        assert_eq!(budget.peak(), 100);
    }
}

/// What every request of one isolate shares: the budget and the gauge's counters.
#[derive(Debug)]
pub struct Isolate {
    pub budget: Rc<Budget>,
    pub in_flight: Cell<u32>,
}

impl Isolate {
    pub fn new(budget_bytes: u64) -> Rc<Self> {
        Rc::new(Self {
            budget: Budget::new(budget_bytes),
            in_flight: Cell::new(0),
        })
    }

    /// Counts a request as in flight until the guard is dropped.
    pub fn enter(self: &Rc<Self>) -> InFlight {
        self.in_flight.set(self.in_flight.get() + 1);
        InFlight(Rc::clone(self))
    }
}

/// One request in flight.
#[derive(Debug)]
pub struct InFlight(Rc<Isolate>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .in_flight
            .set(self.0.in_flight.get().saturating_sub(1));
    }
}
