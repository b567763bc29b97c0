//! Memory admission: one budget for the whole isolate. Every request that needs wasm memory
//! (reading an upload, decoding) reserves it first; what does not fit is refused with a 503
//! instead of growing wasm memory past what the isolate may hold (128 MB, shared with the JS heap,
//! and wasm memory never shrinks). Single-threaded, like the Worker.

use std::cell::Cell;
use std::rc::Rc;

/// The isolate-wide budget of reserved bytes.
#[derive(Debug, Default)]
pub struct Budget {
    limit: Cell<u64>,
    reserved: Cell<u64>,
}

impl Budget {
    pub fn new(limit: u64) -> Rc<Self> {
        Rc::new(Self {
            limit: Cell::new(limit),
            reserved: Cell::new(0),
        })
    }

    /// The configured limit; set once per request from the configuration.
    pub fn set_limit(&self, limit: u64) {
        self.limit.set(limit);
    }

    pub fn reserved(&self) -> u64 {
        self.reserved.get()
    }

    /// Reserves `bytes` until the returned guard is dropped; `None` when they do not fit now.
    pub fn reserve(self: &Rc<Self>, bytes: u64) -> Option<Reservation> {
        let total = self.reserved.get().checked_add(bytes)?;
        if total > self.limit.get() {
            return None;
        }
        self.reserved.set(total);
        Some(Reservation {
            budget: Rc::clone(self),
            bytes,
        })
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
    bytes: u64,
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Resizes this reservation to `total` bytes; `false` (and unchanged) when growing does not
    /// fit. Shrinking always succeeds.
    pub fn resize_to(&mut self, total: u64) -> bool {
        if total <= self.bytes {
            let reserved = self.budget.reserved.get();
            self.budget
                .reserved
                .set(reserved.saturating_sub(self.bytes - total));
            self.bytes = total;
            return true;
        }
        let extra = total - self.bytes;
        let reserved = self.budget.reserved.get();
        if reserved + extra > self.budget.limit.get() {
            return false;
        }
        self.budget.reserved.set(reserved + extra);
        self.bytes = total;
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let reserved = self.budget.reserved.get();
        self.budget
            .reserved
            .set(reserved.saturating_sub(self.bytes));
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
