//! `tun` (ipvsadm `-i`): the packet travels to the real server inside an outer IP header.

use aya_ebpf::{helpers::bpf_xdp_adjust_head, programs::XdpContext};
use lb_common::{GlobalConfig, reason};

use crate::{
    csum,
    forward::{Target, next_hop_v4, send},
    parse::{ETH_HLEN, IPPROTO_IPIP, IPV4_HLEN_MIN, Packet},
    ptr::ptr_at,
    verdict::Verdict,
};

/// TTL of the outer header we add.
const TUN_TTL: u8 = 64;
/// IPv4 "don't fragment" flag.
const IP_DF: u16 = 0x4000;

/// IPIP (RFC 2003) to an IPv4 real server. The outer header carries the director's address as
/// source, the real server's as destination, and the inner TOS and DF bit (RFC 2003 3.1).
#[inline(always)]
pub fn ipip(
    ctx: &XdpContext,
    pkt: &Packet,
    to: &Target,
    cfg: &GlobalConfig,
    now: u64,
) -> Result<Verdict, Verdict> {
    if cfg.src4 == 0 {
        return Err(Verdict::drop(reason::DROP_NO_SOURCE_ADDR));
    }
    let outer_len = pkt.ip_len as u32 + IPV4_HLEN_MIN as u32;
    if cfg.mtu != 0 && outer_len > cfg.mtu {
        return Err(Verdict::drop(reason::DROP_TOO_BIG));
    }
    let outer_len = outer_len as u16;
    let inner: *const [u16; 4] =
        ptr_at(ctx, pkt.l3_off).ok_or(Verdict::pass(reason::PASS_BAD_IP_HEADER))?;
    // SAFETY: in bounds. Words 0 and 3 hold TOS and the DF flag.
    let inner = unsafe { inner.read_unaligned() };
    let tos = u16::from_be(inner[0]) & 0xff;
    let df = u16::from_be(inner[3]) & IP_DF;

    // Look up the next hop before changing anything, so a failure leaves the packet intact.
    let nh = next_hop_v4(ctx, to, cfg.src4, now)?;

    let delta = (ETH_HLEN + IPV4_HLEN_MIN) as i32 - pkt.l3_off as i32;
    // SAFETY: the helper only moves ctx->data within the frame's headroom.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -delta) } != 0 {
        return Err(Verdict::drop(reason::DROP_NO_HEADROOM));
    }
    // adjust_head invalidated every earlier bounds check: check again before writing.
    let ip: *mut [u16; 10] =
        ptr_at(ctx, ETH_HLEN).ok_or(Verdict::drop(reason::DROP_NO_HEADROOM))?;
    let src = u32::from_be(cfg.src4);
    let dst = u32::from_be(to.real.addr[0]);
    let mut w: [u16; 10] = [
        0x4500 | tos,
        outer_len,
        0,
        df,
        ((TUN_TTL as u16) << 8) | IPPROTO_IPIP as u16,
        0,
        (src >> 16) as u16,
        src as u16,
        (dst >> 16) as u16,
        dst as u16,
    ];
    w[5] = csum::ipv4_header(&w);
    let mut wire = [0u16; 10];
    let mut i = 0;
    while i < 10 {
        wire[i] = w[i].to_be();
        i += 1;
    }
    // SAFETY: bounds-checked after adjust_head.
    unsafe { ip.write_unaligned(wire) };
    send(ctx, &nh, reason::TX)
}
