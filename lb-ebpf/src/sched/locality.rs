//! The locality-based schedulers, `lblc` and `lblcr` (IPVS's ip_vs_lblc.c, ip_vs_lblcr.c): a
//! destination address's real server (`lblcr`: set of real servers) in `lb_locality`, kept
//! while it is not overloaded by IPVS's rule, else the `wlc` choice (`counted.rs`),
//! remembered.

use core::ffi::c_void;

use aya_ebpf::helpers::bpf_loop;
use lb_common::{LBLCR_SET_MAX, SCHED_LBLC, SCHED_LBLCR, Service};

use crate::{
    maps::{CONFIG, LOCALITY, scratch},
    sched::counted::{self, put},
    scratch::Scratch,
};

/// `lblc` and `lblcr` (IPVS's ip_vs_lblc.c, ip_vs_lblcr.c): the destination address's entry
/// in [`LOCALITY`], one walk over the service's real servers (the `wlc` choice, and what the
/// entry's members look like), then IPVS's decision. The three parts run as two small
/// out-of-line functions around the walk, so that no frame is added on top of another.
#[inline(always)]
pub fn pick(svc: &Service, now: u64) -> u32 {
    locality_begin(svc.id, now);
    counted::least_loaded(SCHED_LBLC, svc.table_off, svc.table_len, 1);
    // SAFETY: the callback matches bpf_loop's contract; it finds its state in the scratch map.
    unsafe {
        bpf_loop(
            LBLCR_SET_MAX as u32,
            member_step as *mut c_void,
            core::ptr::null_mut(),
            0,
        )
    };
    locality_end((svc.sched == SCHED_LBLCR) as u32, now)
}

/// One member of the set, after the walk: keeps the least loaded schedulable member (IPVS's
/// ip_vs_dest_set_min: weighted least connection, the first in set order on ties) and the
/// most loaded of weight > 0 (ip_vs_dest_set_max); returns 1 to stop, 0 to go on.
#[inline(never)]
extern "C" fn member_step(j: u32, _ctx: *mut c_void) -> i64 {
    let Some(s) = scratch() else {
        return 1;
    };
    // SAFETY: this CPU's scratch slot; locality_begin and the walk filled it.
    let st = unsafe { &mut (*s).least };
    if j == 0 {
        st.dj = LBLCR_SET_MAX as u64;
        st.mj = LBLCR_SET_MAX as u64;
    }
    if j as u64 >= st.count {
        return 1;
    }
    // The mask changes nothing (j < count <= LBLCR_SET_MAX); it bounds the index for the
    // verifier, like the masks of the values read back from the map below.
    const M: usize = LBLCR_SET_MAX - 1;
    let j = j as usize & M;
    let (w, oh) = (st.m_w[j], st.m_oh[j]);
    if w == 0 {
        return 0;
    }
    let d = st.dj as usize;
    if st.m_ok[j] != 0 && (d >= LBLCR_SET_MAX || oh * st.m_w[d & M] < st.m_oh[d & M] * w) {
        st.dj = j as u64;
    }
    let m = st.mj as usize;
    if m >= LBLCR_SET_MAX || st.m_oh[m & M] * w < oh * st.m_w[m & M] {
        st.mj = j as u64;
    }
    0
}

/// Builds the locality key (service, destination address) in the scratch map and copies the
/// entry's members there (refreshing its last use), before the walk.
#[inline(never)]
fn locality_begin(service: u32, now: u64) {
    let Some(s) = scratch() else {
        return;
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run; every store
    // is volatile (both sides of each copy lie in map values: LLVM would call memmove).
    unsafe {
        let k = core::ptr::addr_of_mut!((*s).lkey);
        (*k).service = service;
        // The family and its 3 padding bytes as one aligned word (a 3-byte zero fill becomes
        // a memset call).
        core::ptr::write_volatile(
            core::ptr::addr_of_mut!((*k).family) as *mut u32,
            (*s).pkt.flow.family as u32,
        );
        let mut i = 0;
        while i < 4 {
            core::ptr::write_volatile(&mut (*k).addr[i], (*s).pkt.flow.dst[i]);
            i += 1;
        }
        let st = &mut (*s).least;
        put(&mut st.found, 0);
        put(&mut st.count, 0);
        put(&mut st.last_mod, 0);
        let mut j = 0;
        while j < LBLCR_SET_MAX {
            core::ptr::write_volatile(&mut st.m_w[j], 0);
            core::ptr::write_volatile(&mut st.set[j], 0);
            j += 1;
        }
        let Some(e) = LOCALITY.get_ptr_mut(&*k) else {
            return;
        };
        (*e).last_use_ns = now;
        put(&mut st.found, 1);
        put(&mut st.last_mod, (*e).last_mod_ns);
        let n = (*e).count;
        st.count = if n as usize > LBLCR_SET_MAX {
            LBLCR_SET_MAX as u64
        } else {
            n as u64
        };
        let mut j = 0;
        while j < LBLCR_SET_MAX {
            core::ptr::write_volatile(&mut st.set[j], core::ptr::read_volatile(&(*e).reals[j]));
            j += 1;
        }
    }
}

/// IPVS's decision after the walk; writes the entry back when it changed. Returns the real
/// server, 0 for none.
///
/// `lblc`: the entry's real server, unless it is no longer schedulable (weight 0, removed,
/// over its upper threshold) or overloaded in IPVS's sense (more active connections than its
/// weight while some real server has fewer than half its weight); else the `wlc` choice,
/// which becomes the entry.
///
/// `lblcr`: the set's least loaded schedulable member (weighted least connection, first of
/// the set order on ties); a set of two or more unchanged for `lblcr_expiration` first loses
/// its most loaded member; if there is no member to take or it is overloaded as above, the
/// `wlc` choice, added to the set.
#[inline(never)]
fn locality_end(lblcr: u32, now: u64) -> u32 {
    // Looked up first: values computed before a helper call wait for it on the stack.
    let expiration = match CONFIG.get(0) {
        Some(c) => c.lblcr_expiration_s as u64 * 1_000_000_000,
        None => lb_common::LOCALITY_DEFAULT_EXPIRATION_S as u64 * 1_000_000_000,
    };
    let Some(s) = scratch() else {
        return 0;
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let st = unsafe { &mut (*s).least };
    let best = st.best as u32;
    let n = if st.count as usize > LBLCR_SET_MAX {
        // Never (locality_begin bounds it); for the verifier, whose view of map memory has no
        // bounds.
        LBLCR_SET_MAX
    } else {
        st.count as usize
    };
    if st.found == 0 {
        if best != 0 {
            st.set[0] = best;
            locality_store(s, 1, now, now);
        }
        return best;
    }
    if lblcr == 0 {
        if n > 0
            && st.m_w[0] != 0
            && st.m_ok[0] != 0
            && !(st.m_act[0] > st.m_w[0] && st.any_half != 0)
        {
            return st.set[0];
        }
        if best != 0 {
            st.set[0] = best;
            locality_store(s, 1, now, now);
        }
        return best;
    }
    const M: usize = LBLCR_SET_MAX - 1;
    let dj = st.dj as usize;
    let (dest, dest_act, dest_w) = if dj < LBLCR_SET_MAX {
        (st.set[dj & M], st.m_act[dj & M], st.m_w[dj & M])
    } else {
        (0, 0, 0)
    };
    let mut count = n;
    let mut last_mod = st.last_mod;
    let mut changed = false;
    if count > 1 && now.wrapping_sub(last_mod) > expiration {
        // The most loaded member of weight > 0 (ip_vs_dest_set_max) leaves the set.
        let mj = st.mj as usize;
        if mj < LBLCR_SET_MAX {
            let mut j = 0;
            while j + 1 < LBLCR_SET_MAX {
                if j >= mj {
                    move_member(&mut st.set, j + 1, j);
                }
                j += 1;
            }
            // SAFETY: inside the array.
            unsafe { core::ptr::write_volatile(&mut st.set[LBLCR_SET_MAX - 1], 0) };
            count -= 1;
            last_mod = now;
            changed = true;
        }
    }
    let overloaded = dest_act > dest_w && st.any_half != 0;
    let pick = if dest != 0 && !overloaded {
        dest
    } else if best == 0 {
        0
    } else {
        let mut member = false;
        let mut j = 0;
        while j < LBLCR_SET_MAX {
            if j < count && st.set[j] == best {
                member = true;
            }
            j += 1;
        }
        if !member {
            // Newest first, as IPVS adds to the head of its list; a full set drops its oldest.
            let mut j = LBLCR_SET_MAX - 1;
            while j > 0 {
                move_member(&mut st.set, j - 1, j);
                j -= 1;
            }
            st.set[0] = best;
            if count < LBLCR_SET_MAX {
                count += 1;
            }
            last_mod = now;
            changed = true;
        }
        best
    };
    if changed {
        locality_store(s, count as u32, last_mod, now);
    }
    pick
}

/// `set[to] = set[from]`, volatile: a run of such copies inside one map value would become a
/// `memmove` call.
#[inline(always)]
fn move_member(set: &mut [u32; LBLCR_SET_MAX], from: usize, to: usize) {
    if from < LBLCR_SET_MAX && to < LBLCR_SET_MAX {
        // SAFETY: both indices checked just above.
        unsafe { core::ptr::write_volatile(&mut set[to], core::ptr::read_volatile(&set[from])) };
    }
}

/// Writes the scratch set (its first `count` members) as the destination's entry.
#[inline(always)]
fn locality_store(s: *mut Scratch, count: u32, last_mod: u64, now: u64) {
    // SAFETY: this CPU's scratch slot; volatile word stores, as in locality_begin.
    unsafe {
        let e = core::ptr::addr_of_mut!((*s).loc);
        let mut j = 0;
        while j < LBLCR_SET_MAX {
            let v = if (j as u32) < count {
                core::ptr::read_volatile(&(*s).least.set[j])
            } else {
                0
            };
            core::ptr::write_volatile(&mut (*e).reals[j], v);
            j += 1;
        }
        (*e).count = count;
        (*e)._pad = 0;
        (*e).last_use_ns = now;
        (*e).last_mod_ns = last_mod;
        let _ = LOCALITY.insert(&(*s).lkey, &*e, 0);
    }
}
