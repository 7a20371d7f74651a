//! Persistence templates (ipvsadm `-p`, `-M`): a client network's new connections to a
//! persistent service go to the real server its template names, while the template lives
//! (lbd expires it after the service's persistence timeout).

use lb_common::{FAMILY_V4, PersistKey, REAL_F_REMOVED, Service, reason};

use crate::{
    count::count,
    lookup::prefix_mask,
    maps::{PERSIST, REALS, scratch},
    parse::Packet,
    ptr::zero_in_place,
};

/// Persistence (ipvsadm `-p`): the real server of a live template for the client's network
/// (while that real server still exists, even quiesced, as in IPVS), refreshed; 0 when there
/// is none. Out of line, like [`store`]: `lb`'s own frame has no room left.
#[inline(never)]
pub fn lookup(pkt: &Packet, svc: &Service, now: u64) -> u32 {
    let Some(key) = persist_key(pkt, svc) else {
        return 0;
    };
    let Some(t) = PERSIST.get_ptr_mut(key) else {
        return 0;
    };
    // SAFETY: a live LRU element; only its time and flags are written.
    let t = unsafe { &mut *t };
    // A removed real server keeps its connections, not its clients' future ones.
    if REALS
        .get(t.real)
        .map(|r| r.family != 0 && r.flags & REAL_F_REMOVED == 0)
        .unwrap_or(false)
    {
        t.last_seen_ns = now;
        // A template another director synced is this director's once it uses it: lbd's
        // sender sends it on from now on.
        t.flags = 0;
        count(reason::PERSIST_HIT);
        t.real
    } else {
        0
    }
}

/// Creates (or replaces) the client network's template: its new connections go to `real`.
#[inline(never)]
pub fn store(pkt: &Packet, svc: &Service, real: u32, now: u64) {
    let Some(scratch) = scratch() else {
        return;
    };
    let Some(key) = persist_key(pkt, svc) else {
        return;
    };
    // SAFETY: this CPU's scratch Template, zeroed then filled in place; the update copies it.
    unsafe {
        let p = core::ptr::addr_of_mut!((*scratch).tpl);
        zero_in_place(p);
        (*p).real = real;
        (*p).service = svc.id;
        (*p).last_seen_ns = now;
        let _ = PERSIST.insert(key, &*p, 0);
    }
}

/// The template key of the packet's client network, built in the scratch map: the service
/// and the client address with only the service's persistence prefix kept.
#[inline(always)]
fn persist_key(pkt: &Packet, svc: &Service) -> Option<&'static PersistKey> {
    let scratch = scratch()?;
    let bits = if pkt.flow.family == FAMILY_V4 {
        svc.persist_prefix.min(32) as u32
    } else {
        svc.persist_prefix.min(128) as u32
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let k = unsafe { &mut (*scratch).pkey };
    k.service = svc.id;
    // The family and its 3 padding bytes as one aligned word: a 3-byte zero fill becomes a
    // memset call on the BPF target.
    // SAFETY: `family` starts a 4-byte-aligned 4-byte run (family + _pad) of PersistKey.
    unsafe {
        core::ptr::write_volatile(
            core::ptr::addr_of_mut!(k.family) as *mut u32,
            pkt.flow.family as u32,
        )
    };
    let mut i = 0;
    while i < 4 {
        let keep = prefix_mask(bits, i as u32);
        k.addr[i] = pkt.flow.src[i] & keep.to_be();
        i += 1;
    }
    Some(k)
}
