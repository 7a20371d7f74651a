//! Stage `forward` (IPVS's transmitters, ip_vs_xmit.c): sends the packet to its real server by
//! the real server's forwarding method, one file each: `tun.rs` (ipvsadm `-i`), `dr.rs` (`-g`),
//! `nat.rs` (`-m`, both directions); `route.rs` finds the next hop and sends the frame;
//! `too_big.rs` answers a packet too big once encapsulated; `partial.rs` finishes a checksum
//! the sender left for the hardware.

pub mod dr;
pub mod nat;
pub mod partial;
pub mod route;
pub mod too_big;
pub mod tun;

use aya_ebpf::programs::XdpContext;
use lb_common::{FWD_DR, FWD_NAT, FWD_TUN, GlobalConfig, reason};

use self::route::Target;
use crate::{parse::Packet, verdict::Verdict};

#[inline(always)]
pub fn forward(
    ctx: &XdpContext,
    pkt: &Packet,
    to: &Target,
    cfg: &GlobalConfig,
    now: u64,
) -> Result<Verdict, Verdict> {
    if to.real.method == FWD_NAT {
        // nat keeps the packet's addresses' family: its real server must be of the VIP's
        // family (lbd refuses anything else; this guards against a map written otherwise).
        if to.real.family != pkt.flow.family {
            return Err(Verdict::drop(reason::DROP_UNSUPPORTED_METHOD));
        }
        return nat::to_real(ctx, pkt, to, cfg, now);
    }
    forward_direct::<false>(ctx, pkt, to, cfg, now)
}

/// `tun` and `dr` alone: also `lb_icmp`'s way to forward an ICMP error about a connection
/// (whose program has no stack to spare for the `nat` path's). `ICMP_ERROR`: the packet is
/// an ICMP error (`lb_icmp`'s), never answered with one, so that its program does without
/// the too-big answer's frames.
#[inline(always)]
pub fn forward_direct<const ICMP_ERROR: bool>(
    ctx: &XdpContext,
    pkt: &Packet,
    to: &Target,
    cfg: &GlobalConfig,
    now: u64,
) -> Result<Verdict, Verdict> {
    match to.real.method {
        FWD_TUN => tun::encap::<ICMP_ERROR>(ctx, pkt, to, cfg, now),
        // dr keeps the packet's addresses' family, as nat does.
        FWD_DR if to.real.family == pkt.flow.family => dr::xmit(ctx, pkt, to, cfg, now),
        _ => Err(Verdict::drop(reason::DROP_UNSUPPORTED_METHOD)),
    }
}
