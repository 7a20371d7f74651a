//! The confirmed connection tables, one per family (`lb_conns` keyed by the 16-byte
//! `ConnKey4`, `lb_conns6` by the `FlowKey`): hash maps without LRU, so an entry leaves only
//! when lbd removes it. `lb` inserts an entry when a flow's second packet confirms it (and a
//! `nat` connection's reply entry with it), finds it for every later packet, and removes one
//! only when a SYN ends a connection in TIME_WAIT or CLOSE (IPVS's `conn_reuse_mode`). The
//! entries are counted in `lb_conn_count` as they come and go.

use core::intrinsics::{AtomicOrdering, atomic_xadd};

use lb_common::{Conn, ConnKey4, FAMILY_V6, FlowKey};

use crate::maps::{CONN_COUNT, CONNS, CONNS6};

/// `bpf_map_update_elem`'s answer for a full hash map (-E2BIG).
const E2BIG: i32 = 7;
/// ... and for a key that is already there with `BPF_NOEXIST` (-EEXIST).
const EEXIST: i32 = 17;
/// `BPF_NOEXIST`: insert only a key that is not there (two CPUs confirming one flow at once
/// make one entry, counted once).
const BPF_NOEXIST: u64 = 1;

/// The IPv4 key of a flow, built as two words (a 16-byte struct literal with padding becomes
/// a `memset` call on the BPF target).
#[inline(always)]
fn key4(flow: &FlowKey) -> ConnKey4 {
    let w: [u64; 2] = [
        flow.src[0] as u64 | (flow.dst[0] as u64) << 32,
        flow.sport as u64 | (flow.dport as u64) << 16 | (flow.proto as u64) << 32,
    ];
    // SAFETY: ConnKey4 is 16 bytes of plain integers, 8-aligned like [u64; 2]; the words
    // above lay its fields out in order (little-endian BPF), padding zero.
    unsafe { core::mem::transmute::<[u64; 2], ConnKey4>(w) }
}

/// The flow's confirmed entry, to be read and updated in place.
#[inline(always)]
pub fn get(flow: &FlowKey) -> Option<*mut Conn> {
    if flow.family == FAMILY_V6 {
        CONNS6.get_ptr_mut(flow)
    } else {
        CONNS.get_ptr_mut(&key4(flow))
    }
}

/// Why [`insert`] made no entry.
pub enum Refused {
    /// The table is full (counted as `conn_table_full` by the caller).
    Full,
    /// Any other refusal of the kernel.
    Failed,
}

/// Inserts a confirmed entry; an entry another CPU made for the same flow meanwhile counts as
/// made.
#[inline(always)]
pub fn insert(flow: &FlowKey, real: u32, state: u8, flags: u8, now: u32) -> Result<(), Refused> {
    let w: [u64; 2] = [
        real as u64 | (now as u64) << 32,
        state as u64 | (flags as u64) << 8,
    ];
    // SAFETY: Conn is 16 bytes of plain integers, 8-aligned like [u64; 2]; the words above
    // lay out real, last_seen, state, flags (little-endian BPF), padding zero.
    let c = unsafe { core::mem::transmute::<[u64; 2], Conn>(w) };
    let (r, fam) = if flow.family == FAMILY_V6 {
        (CONNS6.insert(flow, &c, BPF_NOEXIST), 1)
    } else {
        (CONNS.insert(&key4(flow), &c, BPF_NOEXIST), 0)
    };
    match r {
        Ok(()) => {
            count_entries(fam, 1);
            Ok(())
        }
        Err(e) if -e == EEXIST => Ok(()),
        Err(e) if -e == E2BIG => Err(Refused::Full),
        Err(_) => Err(Refused::Failed),
    }
}

/// Removes the flow's confirmed entry; true when there was one.
#[inline(always)]
pub fn remove(flow: &FlowKey) -> bool {
    let (r, fam) = if flow.family == FAMILY_V6 {
        (CONNS6.remove(flow), 1)
    } else {
        (CONNS.remove(&key4(flow)), 0)
    };
    if r.is_ok() {
        count_entries(fam, -1);
    }
    r.is_ok()
}

#[inline(always)]
fn count_entries(fam: u32, n: i64) {
    if let Some(c) = CONN_COUNT.get_ptr_mut(fam) {
        // SAFETY: an array element, 8-aligned, only ever accessed atomically (lbd through its
        // mapping); the intrinsic is BPF_XADD (see counts.rs).
        let _ = unsafe {
            atomic_xadd::<i64, i64, { AtomicOrdering::Relaxed }>(
                core::ptr::addr_of_mut!((*c).entries),
                n,
            )
        };
    }
}
