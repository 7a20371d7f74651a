//! The up/down state machine of one checked real server: `fall` failures in a row take an up
//! real server down, `rise` successes in a row bring a down one back; any result that agrees
//! with the current state resets the count, so a flapping server stays where it is.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracker {
    up: bool,
    rise: u32,
    fall: u32,
    /// Results in a row that disagree with the current state.
    against: u32,
    /// Successes (or failures) in a row, whatever the state: for listings.
    successes: u32,
    failures: u32,
}

impl Tracker {
    /// A new real server starts up (as in keepalived without `alpha`): a freshly started lbd
    /// does not refuse traffic while its first checks run.
    pub fn new(rise: u32, fall: u32) -> Self {
        Self::starting(true, rise, fall)
    }

    /// A tracker in a given state (a check that was changed keeps its real server's state).
    pub fn starting(up: bool, rise: u32, fall: u32) -> Self {
        Self {
            up,
            rise: rise.max(1),
            fall: fall.max(1),
            against: 0,
            successes: 0,
            failures: 0,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    pub fn successes(&self) -> u32 {
        self.successes
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records one check's result; returns the new state when it changed.
    pub fn record(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
        }
        if ok == self.up {
            self.against = 0;
            return None;
        }
        self.against += 1;
        let needed = if self.up { self.fall } else { self.rise };
        if self.against >= needed {
            self.up = ok;
            self.against = 0;
            Some(self.up)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds results ('+' ok, '-' failed) and returns the state after each as '^' / 'v'.
    fn run(t: &mut Tracker, results: &str) -> String {
        results
            .chars()
            .map(|c| {
                t.record(c == '+');
                if t.is_up() { '^' } else { 'v' }
            })
            .collect()
    }

    #[test]
    fn fall_failures_in_a_row_take_it_down_rise_successes_bring_it_back() {
        let mut t = Tracker::new(2, 3);
        assert!(t.is_up());
        assert_eq!(run(&mut t, "--"), "^^", "two failures are not enough");
        assert_eq!(t.record(false), Some(false), "the third is");
        assert_eq!(run(&mut t, "-"), "v");
        assert_eq!(t.record(true), None);
        assert_eq!(t.record(true), Some(true), "second success in a row");
        assert_eq!((t.successes(), t.failures()), (2, 0));
    }

    #[test]
    fn a_result_that_agrees_resets_the_count() {
        let mut t = Tracker::new(2, 3);
        assert_eq!(run(&mut t, "--+--+--+"), "^^^^^^^^^");
        assert_eq!(run(&mut t, "---"), "^^v");
        assert_eq!(run(&mut t, "+-+-+-"), "vvvvvv");
        assert_eq!(run(&mut t, "++"), "v^");
    }

    #[test]
    fn flapping_never_changes_state_with_rise_and_fall_above_one() {
        for (rise, fall) in [(2, 2), (2, 3), (5, 5)] {
            let mut t = Tracker::new(rise, fall);
            let flaps: String = "+-".repeat(50);
            assert_eq!(
                run(&mut t, &flaps),
                "^".repeat(100),
                "rise {rise} fall {fall}"
            );
            let mut t = Tracker::starting(false, rise, fall);
            assert_eq!(
                run(&mut t, &flaps),
                "v".repeat(100),
                "rise {rise} fall {fall}"
            );
        }
        // With 1 and 1 every result is the state.
        let mut t = Tracker::new(1, 1);
        assert_eq!(run(&mut t, "+-+-"), "^v^v");
    }

    #[test]
    fn zero_thresholds_act_as_one() {
        let mut t = Tracker::new(0, 0);
        assert_eq!(run(&mut t, "-+"), "v^");
    }
}
