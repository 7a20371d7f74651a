//! `dr` (direct routing, ipvsadm `-g`): only the destination MAC changes, to the real
//! server's, which holds the VIP on a local interface and answers the client directly.

use aya_ebpf::programs::XdpContext;
use lb_common::{GlobalConfig, NeighMiss, reason};

use super::route::{Target, ethertype, next_hop, send};
use crate::{maps::NEIGH_MISS, parse::Packet, ptr, verdict::Verdict};

/// IPVS's `ip_vs_dr_xmit`. The real server must be on the director's link (the FIB names no
/// gateway).
#[inline(always)]
pub fn xmit(
    ctx: &XdpContext,
    pkt: &Packet,
    to: &Target,
    cfg: &GlobalConfig,
    now: u64,
) -> Result<Verdict, Verdict> {
    let nh = match next_hop(ctx, to, cfg, now) {
        Ok(nh) => nh,
        Err(v) => {
            if v.reason == reason::DROP_FIB_NO_NEIGH {
                neigh_miss(to);
            }
            return Err(v);
        }
    };
    if nh.onlink == 0 {
        return Err(Verdict::drop(reason::DROP_DR_NOT_ONLINK));
    }
    send(ctx, &nh, ethertype(pkt.flow.family), reason::TX)
}

/// The real server has no neighbour entry: the frame, addressed to the VIP (the director's
/// own address), cannot be handed to the kernel to forward, so it is dropped; lbd, told
/// through `NEIGH_MISS`, has the kernel resolve the real server at once, so that the
/// client's retransmission finds its MAC. A full ring (lbd behind) loses the record; the
/// next dropped packet writes another.
#[inline(always)]
fn neigh_miss(to: &Target) {
    let Some(mut e) = NEIGH_MISS.reserve::<NeighMiss>(0) else {
        return;
    };
    let p = e.as_mut_ptr();
    // SAFETY: `p` is the reserved record, written field by field (a struct copy would become
    // a `memmove` call).
    unsafe {
        ptr::store_addr(core::ptr::addr_of_mut!((*p).addr) as *mut u8, &to.real.addr);
        (*p).real = to.id;
        // The family and its three bytes of padding as one word (bpfel: the family first).
        (core::ptr::addr_of_mut!((*p).family) as *mut u32).write_unaligned(to.real.family as u32);
    }
    e.submit(0);
}
