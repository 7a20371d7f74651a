//! `dr` (direct routing, ipvsadm `-g`): only the destination MAC changes, to the real
//! server's, which holds the VIP on a local interface and answers the client directly.

use aya_ebpf::programs::XdpContext;
use lb_common::{GlobalConfig, reason};

use super::route::{Target, ethertype, next_hop, send};
use crate::{parse::Packet, verdict::Verdict};

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
    let nh = next_hop(ctx, to, cfg, now)?;
    if nh.onlink == 0 {
        return Err(Verdict::drop(reason::DROP_DR_NOT_ONLINK));
    }
    send(ctx, &nh, ethertype(pkt.flow.family), reason::TX)
}
