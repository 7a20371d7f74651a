//! Stage `forward`: sends the packet to its real server by the real server's forwarding
//! method. Next hop and MAC addresses come from the kernel's FIB (`bpf_fib_lookup`).

use aya_ebpf::{
    bindings::{
        BPF_FIB_LKUP_RET_FWD_DISABLED, BPF_FIB_LKUP_RET_NO_NEIGH, BPF_FIB_LKUP_RET_SUCCESS,
        bpf_fib_lookup as FibParams,
    },
    helpers::{bpf_fib_lookup, bpf_redirect, bpf_xdp_adjust_head},
    programs::XdpContext,
};
use lb_common::{FAMILY_V4, FWD_TUN, GlobalConfig, NH_CACHE_TTL_NS, NextHop, RealServer, reason};

use crate::{
    maps::NH_CACHE,
    parse::{ETH_HLEN, ETH_P_IP, IPPROTO_IPIP, IPV4_HLEN_MIN, Packet},
    ptr::ptr_at,
    verdict::Verdict,
};

const AF_INET: u8 = 2;
/// TTL of the outer header we add.
const TUN_TTL: u8 = 64;
/// IPv4 "don't fragment" flag.
const IP_DF: u16 = 0x4000;

/// The real server a packet goes to, as the forwarding stage needs it.
pub struct Target {
    pub id: u32,
    pub real: RealServer,
}

#[inline(always)]
pub fn forward(
    ctx: &XdpContext,
    pkt: &Packet,
    to: &Target,
    cfg: &GlobalConfig,
    now: u64,
) -> Result<Verdict, Verdict> {
    if to.real.method == FWD_TUN && to.real.family == FAMILY_V4 {
        return tun_ipip(ctx, pkt, to, cfg, now);
    }
    Err(Verdict::drop(reason::DROP_UNSUPPORTED_METHOD))
}

/// The next hop toward a real server: from this CPU's cache while fresh, else from the FIB
/// (and cached again).
#[inline(always)]
fn next_hop_v4(ctx: &XdpContext, to: &Target, src: u32, now: u64) -> Result<NextHop, Verdict> {
    let Some(c) = NH_CACHE.get_ptr_mut(to.id) else {
        // Ids beyond the cache's size do not exist (REALS has the same size).
        return Err(Verdict::drop(reason::DROP_BAD_REAL));
    };
    // SAFETY: a per-CPU slot, only this CPU touches it while this program runs.
    let c = unsafe { &mut *c };
    if c.expires_ns > now {
        return Ok(*c);
    }
    let mut nh = fib_v4(ctx, src, to.real.addr[0])?;
    nh.expires_ns = now + NH_CACHE_TTL_NS;
    *c = nh;
    Ok(nh)
}

#[inline(always)]
fn fib_v4(ctx: &XdpContext, src: u32, dst: u32) -> Result<NextHop, Verdict> {
    let mut params = core::mem::MaybeUninit::<FibParams>::uninit();
    let p = params.as_mut_ptr();
    // SAFETY: p points to a local FibParams; it is zeroed in place, then filled field by field.
    // Going through the pointer (no by-value copy) keeps LLVM from turning it into a memset.
    let rc = unsafe {
        zero_in_place(p);
        (*p).family = AF_INET;
        (*p).ifindex = ctx.ingress_ifindex() as u32;
        (*p).__bindgen_anon_3.ipv4_src = src;
        (*p).__bindgen_anon_4.ipv4_dst = dst;
        bpf_fib_lookup(
            ctx.ctx as *mut _,
            p,
            core::mem::size_of::<FibParams>() as i32,
            0,
        )
    };
    // SAFETY: fully initialised above and by the helper.
    let p = unsafe { &*p };
    match rc as u32 {
        BPF_FIB_LKUP_RET_SUCCESS => Ok(NextHop {
            ifindex: p.ifindex,
            smac: p.smac,
            dmac: p.dmac,
            expires_ns: 0,
        }),
        BPF_FIB_LKUP_RET_NO_NEIGH => Err(Verdict::drop(reason::DROP_FIB_NO_NEIGH)),
        BPF_FIB_LKUP_RET_FWD_DISABLED => Err(Verdict::drop(reason::DROP_FIB_FWD_DISABLED)),
        _ => Err(Verdict::drop(reason::DROP_FIB_NO_ROUTE)),
    }
}

/// Zeroes a FibParams word by word. `mem::zeroed` of this 64-byte struct becomes a call to a
/// byte-loop `memset` subprogram on the BPF target; volatile stores cannot be folded into one.
#[inline(always)]
unsafe fn zero_in_place(p: *mut FibParams) {
    const WORDS: usize = core::mem::size_of::<FibParams>() / 8;
    let w = p as *mut u64;
    let mut i = 0;
    while i < WORDS {
        // SAFETY: i < WORDS keeps the store inside *p (64 bytes, 8-aligned).
        unsafe { w.add(i).write_volatile(0) };
        i += 1;
    }
}

/// RFC 1071 checksum of an IPv4 header given as ten host-order 16-bit words.
#[inline(always)]
fn ipv4_csum(words: &[u16; 10]) -> u16 {
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < 10 {
        sum += words[i] as u32;
        i += 1;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

/// `tun` for an IPv4 real server: IPIP (RFC 2003). The outer header carries the director's
/// address as source, the real server's as destination, and the inner TOS and DF bit.
#[inline(always)]
fn tun_ipip(
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
    let eth: *mut [u8; ETH_HLEN] = ptr_at(ctx, 0).ok_or(Verdict::drop(reason::DROP_NO_HEADROOM))?;
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
    w[5] = ipv4_csum(&w);
    let mut hdr = [0u8; ETH_HLEN];
    hdr[..6].copy_from_slice(&nh.dmac);
    hdr[6..12].copy_from_slice(&nh.smac);
    hdr[12..].copy_from_slice(&ETH_P_IP.to_be_bytes());
    let mut wire = [0u16; 10];
    let mut i = 0;
    while i < 10 {
        wire[i] = w[i].to_be();
        i += 1;
    }
    // SAFETY: both pointers were bounds-checked after adjust_head.
    unsafe {
        eth.write_unaligned(hdr);
        ip.write_unaligned(wire);
    }
    if nh.ifindex == ctx.ingress_ifindex() as u32 {
        Ok(Verdict::tx(reason::TX))
    } else {
        // SAFETY: helper without memory arguments.
        unsafe { bpf_redirect(nh.ifindex, 0) };
        Ok(Verdict::redirect(reason::REDIRECT))
    }
}
