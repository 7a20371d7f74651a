//! The scheduler table's regions: each service's table occupies one, a changed table goes
//! into a free one, and a freed region waits before reuse.

use std::time::{Duration, Instant};

/// How long a freed table region stays unused: longer than any packet's run through `lb`
/// that could still hold the old service value.
pub const REGION_QUARANTINE: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub off: u32,
    pub len: u32,
}

/// First-fit allocator of scheduler-table regions. Freed regions are quarantined for
/// [`REGION_QUARANTINE`] before reuse, so a packet that read the old service value just
/// before a flip still finds the old table intact.
#[derive(Debug)]
pub struct RegionAlloc {
    /// Free ranges, sorted by offset, never adjacent (merged on free).
    free: Vec<Region>,
    quarantine: Vec<(Instant, Region)>,
}

impl RegionAlloc {
    pub fn new(capacity: u32) -> Self {
        Self {
            free: vec![Region {
                off: 0,
                len: capacity,
            }],
            quarantine: Vec::new(),
        }
    }

    pub fn alloc(&mut self, len: u32) -> Option<Region> {
        let now = Instant::now();
        let (ripe, keep): (Vec<_>, Vec<_>) = self
            .quarantine
            .drain(..)
            .partition(|(t, _)| now.duration_since(*t) >= REGION_QUARANTINE);
        self.quarantine = keep;
        for (_, r) in ripe {
            self.release(r);
        }
        let i = self.free.iter().position(|r| r.len >= len)?;
        let r = self.free[i];
        if r.len == len {
            self.free.remove(i);
        } else {
            self.free[i] = Region {
                off: r.off + len,
                len: r.len - len,
            };
        }
        Some(Region { off: r.off, len })
    }

    /// Marks a region in use (one an adopted service's table occupies).
    pub fn reserve(&mut self, r: Region) {
        if r.len == 0 {
            return;
        }
        let Some(i) = self
            .free
            .iter()
            .position(|f| f.off <= r.off && r.off + r.len <= f.off + f.len)
        else {
            return;
        };
        let f = self.free.remove(i);
        let mut at = i;
        if f.off < r.off {
            self.free.insert(
                at,
                Region {
                    off: f.off,
                    len: r.off - f.off,
                },
            );
            at += 1;
        }
        if r.off + r.len < f.off + f.len {
            self.free.insert(
                at,
                Region {
                    off: r.off + r.len,
                    len: f.off + f.len - (r.off + r.len),
                },
            );
        }
    }

    pub fn free(&mut self, r: Region) {
        self.quarantine.push((Instant::now(), r));
    }

    fn release(&mut self, r: Region) {
        let i = self.free.partition_point(|f| f.off < r.off);
        self.free.insert(i, r);
        // Merge with the next, then with the previous range.
        if i + 1 < self.free.len() && self.free[i].off + self.free[i].len == self.free[i + 1].off {
            self.free[i].len += self.free[i + 1].len;
            self.free.remove(i + 1);
        }
        if i > 0 && self.free[i - 1].off + self.free[i - 1].len == self.free[i].off {
            self.free[i - 1].len += self.free[i].len;
            self.free.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_quarantined_then_reused_and_merged() {
        let mut a = RegionAlloc::new(100);
        let r1 = a.alloc(40).unwrap();
        let r2 = a.alloc(40).unwrap();
        assert_eq!((r1.off, r2.off), (0, 40));
        assert!(a.alloc(40).is_none(), "only 20 slots left");
        a.free(r1);
        assert!(
            a.alloc(40).is_none(),
            "a freed region is quarantined at first"
        );
        a.quarantine[0].0 -= REGION_QUARANTINE;
        a.free(r2);
        a.quarantine[1].0 -= REGION_QUARANTINE;
        let r = a.alloc(100).expect("all three ranges merged back into one");
        assert_eq!(r, Region { off: 0, len: 100 });
    }

    #[test]
    fn adopted_regions_are_reserved_and_the_rest_allocated_around_them() {
        let mut a = RegionAlloc::new(100);
        a.reserve(Region { off: 30, len: 20 });
        a.reserve(Region { off: 0, len: 10 });
        assert_eq!(
            a.free,
            vec![Region { off: 10, len: 20 }, Region { off: 50, len: 50 }]
        );
        assert_eq!(a.alloc(25), Some(Region { off: 50, len: 25 }), "first fit");
        assert_eq!(a.alloc(20), Some(Region { off: 10, len: 20 }));
        assert_eq!(a.alloc(25), Some(Region { off: 75, len: 25 }));
        assert_eq!(a.alloc(1), None, "everything else is taken");
    }
}
