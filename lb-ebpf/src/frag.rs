//! Fragments: every fragment of a datagram goes where its first fragment went. The first
//! fragment (it alone carries the ports) is scheduled like any packet, and its real server is
//! remembered under (source, destination, protocol, IP id) in [`FRAGS`]; the later fragments
//! find it there. A later fragment with no entry (not for a VIP, early, or older than
//! `FRAG_TIMEOUT_NS`) is the host stack's (`pass_fragment`).

use lb_common::{FRAG_TIMEOUT_NS, FragEntry, reason};

use crate::{
    count::count,
    maps::{FRAGS, scratch},
    parse::{FRAG_FIRST, Packet},
    scratch::Scratch,
    verdict::Verdict,
};

/// Copies an address word by word. Both sides live in the same map value (the scratch
/// slot), so LLVM cannot rule out overlap and turns a plain copy into a call to a byte-loop
/// `memmove` subprogram; volatile stores stay four stores.
#[inline(always)]
fn copy_words(dst: &mut [u32; 4], src: &[u32; 4]) {
    let mut i = 0;
    while i < 4 {
        // SAFETY: i < 4, inside both arrays.
        unsafe { core::ptr::write_volatile(&mut dst[i], src[i]) };
        i += 1;
    }
}

/// Fills this CPU's scratch key for the packet's datagram; `None` only if the scratch slot
/// is missing (it never is: index 0 of a one-entry per-CPU array).
#[inline(always)]
fn key_in_scratch(pkt: &Packet) -> Option<*mut Scratch> {
    let s = scratch()?;
    // SAFETY: this CPU's slot, used by nothing else during this run.
    unsafe {
        let k = &mut (*s).frag_key;
        copy_words(&mut k.src, &pkt.flow.src);
        copy_words(&mut k.dst, &pkt.flow.dst);
        k.id = pkt.frag_id;
        k.proto = pkt.flow.proto;
        k.family = pkt.flow.family;
        k._pad = [0; 2];
    }
    Some(s)
}

/// For a first fragment: remembers where the rest of its datagram goes.
#[inline(always)]
pub fn remember(pkt: &Packet, real: u32, service: u32, flags: u32, vaddr: &[u32; 4], now: u64) {
    if pkt.frag != FRAG_FIRST {
        return;
    }
    let Some(s) = key_in_scratch(pkt) else {
        return;
    };
    // SAFETY: as in `key_in_scratch`.
    let ok = unsafe {
        let e = &mut (*s).frag;
        e.real = real;
        e.service = service;
        e.flags = flags;
        e._pad = 0;
        e.created_ns = now;
        copy_words(&mut e.vaddr, vaddr);
        // An LRU insert only fails without memory; the later fragments are then passed
        // (counted there).
        FRAGS.insert(&(*s).frag_key, &(*s).frag, 0).is_ok()
    };
    if ok {
        count(reason::FRAG_FIRST);
    }
}

/// For a later fragment: where its first fragment went (real-server id, service id, flags),
/// with the entry left in this CPU's scratch slot (`frag`).
#[inline(always)]
pub fn lookup(pkt: &Packet, now: u64) -> Result<*const FragEntry, Verdict> {
    let miss = Verdict::pass(reason::PASS_FRAGMENT);
    let s = key_in_scratch(pkt).ok_or(miss)?;
    // SAFETY: as in `key_in_scratch`; the map value is copied out at once.
    unsafe {
        let e = FRAGS.get_ptr(&(*s).frag_key).ok_or(miss)?;
        let f = &mut (*s).frag;
        f.real = (*e).real;
        f.service = (*e).service;
        f.flags = (*e).flags;
        f.created_ns = (*e).created_ns;
        copy_words(&mut f.vaddr, &(*e).vaddr);
        if now.wrapping_sub((*s).frag.created_ns) > FRAG_TIMEOUT_NS {
            return Err(miss);
        }
        count(reason::FRAG_FOLLOWED);
        Ok(&(*s).frag)
    }
}
