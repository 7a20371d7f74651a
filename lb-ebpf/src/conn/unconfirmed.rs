//! The unconfirmed table (`lb_conns_new`): where a flow's first packet is recorded, until its
//! second packet from the client confirms it into the connection table. An array of
//! `NewConn` slots in buckets of `NEW_CONN_WAYS` (a bucket per flow hash): array lookups are
//! inlined by the verifier (no helper call), a first packet costs a few stores, and a flood of
//! first packets only churns this array: a new flow takes a free slot of its bucket, else the
//! oldest one, so a slot lives about as long as the bucket takes to see `NEW_CONN_WAYS` newer
//! flows. The slots are shared by every CPU without a lock: each is written with its check
//! word cleared first and set last, and a reader takes a slot whose check does not match its
//! fields (another CPU was rewriting it) as no entry.

use core::sync::atomic::{Ordering, compiler_fence};

use lb_common::{CONN_F_REPLY, FlowKey, NEW_CONN_WAYS, NewConn, conn_age, new_conn_bucket, reason};

use super::counts;
use crate::{
    count::count,
    maps::{CONNS_NEW, scratch},
};

/// Whether a slot's flow is `flow`: every word compared at once, without a branch per word
/// (each branch is one more state for the verifier to follow, four slots a bucket). Word by
/// word: the flow may be on the stack, where wider reads of a 4-aligned key are refused.
#[inline(always)]
fn same(a: &FlowKey, b: &FlowKey) -> bool {
    let mut d = (a.sport ^ b.sport) as u32 | (a.dport ^ b.dport) as u32;
    d |= (a.proto ^ b.proto) as u32 | (a.family ^ b.family) as u32;
    let mut i = 0;
    while i < 4 {
        d |= (a.src[i] ^ b.src[i]) | (a.dst[i] ^ b.dst[i]);
        i += 1;
    }
    d == 0
}

/// The flow's slot, when its bucket holds it whole; a slot another CPU is rewriting counts as
/// none (`conn_new_torn`).
#[inline(always)]
pub fn find(flow: &FlowKey) -> Option<*mut NewConn> {
    let base = new_conn_bucket(flow) * NEW_CONN_WAYS;
    let mut w = 0;
    while w < NEW_CONN_WAYS {
        if let Some(s) = CONNS_NEW.get_ptr_mut(base + w) {
            // SAFETY: an array element; other CPUs may be rewriting it, which `sealed` tells.
            let r = unsafe { &*s };
            if r.check != 0 && same(&r.flow, flow) {
                if r.sealed() {
                    return Some(s);
                }
                count(reason::CONN_NEW_TORN);
                return None;
            }
        }
        w += 1;
    }
    None
}

/// Records `flow` in its bucket: the slot it already has, else a free one, else the oldest
/// (whose flow is forgotten: `conn_new_evicted`, and its connection leaves its real server's
/// counts). The caller counts the new entry.
#[inline(always)]
pub fn record(flow: &FlowKey, real: u32, state: u8, flags: u8, now: u32) {
    let base = new_conn_bucket(flow) * NEW_CONN_WAYS;
    let Some(sc) = scratch() else {
        // Index 0 of a one-entry per-CPU array always exists; this is for the type checker.
        return;
    };
    // The walk's state lives in the scratch slot: off the 512-byte stack, and untracked by
    // the verifier (which then checks each step once).
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let p = unsafe { &mut (*sc).pick };
    // The flow's own slot, else the first free one, else the oldest.
    p.own = NEW_CONN_WAYS;
    p.free = NEW_CONN_WAYS;
    p.oldest = 0;
    p.oldest_age = 0;
    let mut w = 0;
    while w < NEW_CONN_WAYS {
        if let Some(s) = CONNS_NEW.get_ptr_mut(base + w) {
            // SAFETY: an array element, read only.
            let r = unsafe { &*s };
            if r.check == 0 {
                if p.free == NEW_CONN_WAYS {
                    p.free = w;
                }
            } else if same(&r.flow, flow) {
                p.own = w;
            } else {
                // A slot another CPU stamped after this packet read the clock is the
                // youngest, not (wrapping) the oldest.
                let age = conn_age(now, r.last_seen);
                if age >= p.oldest_age {
                    p.oldest = w;
                    p.oldest_age = age;
                }
            }
        }
        w += 1;
    }
    let pick = if p.own != NEW_CONN_WAYS {
        p.own
    } else if p.free != NEW_CONN_WAYS {
        p.free
    } else {
        p.oldest
    } & (NEW_CONN_WAYS - 1);
    let Some(s) = CONNS_NEW.get_ptr_mut(base + pick) else {
        // `base + pick` is below the array's size by construction; this is for the type
        // checker.
        return;
    };
    // The new entry's check word, from the values written below: before the old entry's
    // check, so that the CPU computes the two side by side (each a chain of 13
    // multiplications; one after the other they were a fifth of `lb_new`'s time for a new
    // flow that evicts).
    let seal = NewConn::seal_of(flow, flags, real, now, state);
    // SAFETY: an array element, rewritten in place (see the module's doc for the check word).
    unsafe {
        let r = &mut *s;
        if r.check != 0 && r.sealed() {
            if r.flags & CONN_F_REPLY == 0 {
                counts::add(r.real, r.state, -1);
            }
            if !same(&r.flow, flow) {
                count(reason::CONN_NEW_EVICTED);
            }
        }
        core::ptr::write_volatile(&mut r.check, 0);
        compiler_fence(Ordering::SeqCst);
        r.flow
            .set(&flow.src, &flow.dst, (flow.sport, flow.dport), flow);
        r.real = real;
        r.last_seen = now;
        core::ptr::write_volatile(
            core::ptr::addr_of_mut!(r.state) as *mut u32,
            state as u32 | (flags as u32) << 8,
        );
        compiler_fence(Ordering::SeqCst);
        core::ptr::write_volatile(&mut r.check, seal);
    }
}

/// Moves a slot's connection on: its state and last-seen time.
///
/// # Safety
/// `s` is a slot [`find`] returned during this run.
#[inline(always)]
pub unsafe fn refresh(s: *mut NewConn, state: u8, now: u32) {
    // SAFETY: the caller's contract.
    unsafe {
        let r = &mut *s;
        core::ptr::write_volatile(&mut r.check, 0);
        compiler_fence(Ordering::SeqCst);
        r.state = state;
        r.last_seen = now;
        compiler_fence(Ordering::SeqCst);
        let seal = r.seal();
        core::ptr::write_volatile(&mut r.check, seal);
    }
}

/// Empties a slot (its flow was confirmed, or a SYN ended it).
///
/// # Safety
/// `s` is a slot [`find`] returned during this run.
#[inline(always)]
pub unsafe fn clear(s: *mut NewConn) {
    // SAFETY: the caller's contract.
    unsafe { core::ptr::write_volatile(&mut (*s).check, 0) };
}
