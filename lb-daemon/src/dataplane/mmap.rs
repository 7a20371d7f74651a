//! The mmap'able BPF arrays (the scheduler table, the real servers' connection counts),
//! mapped into lbd's memory with `memmap2`.

use std::{os::fd::AsFd, sync::atomic::AtomicI64};

use aya::maps::MapData;
use lb_common::DEFAULT_SCHED_TABLE_SLOTS;
use memmap2::{MmapMut, MmapOptions};

use super::{DataplaneError, Result};

/// A BPF array map created with `BPF_F_MMAPABLE`, mapped into this process: writes are plain
/// memory stores (a 65537-slot scheduler table is one pass over memory instead of 65537
/// syscalls) and counters can be updated atomically alongside the XDP program. The kernel
/// lays elements out `round_up(value_size, 8)` bytes apart.
pub(super) struct MmapArray {
    /// Taken once from the mapping (while this value owned it mutably), so that writes and
    /// the atomic counters through `&self` keep the mapping's provenance.
    ptr: *mut u8,
    pub(super) slots: u32,
    stride: usize,
    _mmap: MmapMut,
    _map: MapData,
}

// SAFETY: the mapping is owned by this value and only accessed through &self / &mut self.
unsafe impl Send for MmapArray {}

impl MmapArray {
    pub(super) fn new(map: MapData, value_size: usize) -> Result<Self> {
        let slots = map
            .info()
            .map(|i| i.max_entries())
            .unwrap_or(DEFAULT_SCHED_TABLE_SLOTS);
        let stride = value_size.div_ceil(8) * 8;
        let page = 4096usize;
        let bytes = (slots as usize * stride).div_ceil(page) * page;
        // SAFETY: mapping a BPF array map created with BPF_F_MMAPABLE, shared, read-write,
        // no larger than the map's value area rounded to a page. The kernel keeps the
        // memory while the mapping lives; nothing truncates it.
        let mut mmap = unsafe { MmapOptions::new().len(bytes).map_mut(&map.fd().as_fd()) }
            .map_err(DataplaneError::Mmap)?;
        Ok(Self {
            ptr: mmap.as_mut_ptr(),
            slots,
            stride,
            _mmap: mmap,
            _map: map,
        })
    }

    fn check(&self, off: u32, len: usize) -> Result<()> {
        if off as usize + len > self.slots as usize {
            return Err(DataplaneError::TableRange {
                off,
                len,
                cap: self.slots,
            });
        }
        Ok(())
    }

    /// Element `i` (bounds-checked by the caller).
    pub(super) fn at(&self, i: u32) -> *mut u8 {
        // SAFETY: callers check i < slots; the mapping covers slots * stride bytes.
        unsafe { self.ptr.add(i as usize * self.stride) }
    }

    /// Scheduler table: writes 8-byte cells from `off`.
    pub(super) fn write_cells(&mut self, off: u32, cells: &[u64]) -> Result<()> {
        self.check(off, cells.len())?;
        for (i, c) in cells.iter().enumerate() {
            // SAFETY: in range (checked above), cells are 8-aligned.
            unsafe { (self.at(off + i as u32) as *mut u64).write(*c) };
        }
        // Make the table visible before the service update that points readers at it (the
        // bpf() syscall is a barrier too; this states the intent).
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    pub(super) fn read_ids(&self, off: u32, len: usize) -> Result<Vec<u32>> {
        self.check(off, len)?;
        // SAFETY: in range (checked above).
        Ok((0..len)
            .map(|i| unsafe { (self.at(off + i as u32) as *const u64).read() } as u32)
            .collect())
    }

    /// The i64 counter at element `i` (an array of 8-byte values), as an atomic shared with
    /// the XDP program.
    pub(super) fn counter(&self, i: u32) -> Result<&AtomicI64> {
        self.check(i, 1)?;
        // SAFETY: in range, 8-aligned, and the XDP program only ever updates it with atomic
        // adds.
        Ok(unsafe { AtomicI64::from_ptr(self.at(i) as *mut i64) })
    }

    /// The pair of i64 counters at element `i`, as atomics shared with the XDP program.
    pub(super) fn counters(&self, i: u32) -> Result<[&AtomicI64; 2]> {
        self.check(i, 1)?;
        let p = self.at(i) as *mut i64;
        // SAFETY: in range, 8-aligned, and the XDP program only ever updates these with
        // atomic adds.
        Ok(unsafe { [AtomicI64::from_ptr(p), AtomicI64::from_ptr(p.add(1))] })
    }
}
