//! Routing for every forwarding method: the next hop and MAC addresses from the kernel's FIB
//! (`bpf_fib_lookup`), cached per real server and CPU, and sending the frame out (XDP_TX on
//! the ingress interface, a redirect to another).

use aya_ebpf::{
    bindings::{
        BPF_FIB_LKUP_RET_FWD_DISABLED, BPF_FIB_LKUP_RET_NO_NEIGH, BPF_FIB_LKUP_RET_NO_SRC_ADDR,
        BPF_FIB_LKUP_RET_SUCCESS, BPF_FIB_LOOKUP_SRC, bpf_fib_lookup as FibParams,
    },
    helpers::{bpf_fib_lookup, bpf_redirect},
    programs::XdpContext,
};
use lb_common::{
    FAMILY_V6, FWD_TUN, GlobalConfig, NH_CACHE_TTL_NS, NextHop, RealServer, client_nh_slot, reason,
};

use crate::{
    headers::{ETH_ALEN, ETH_HLEN, ETH_P_IP, ETH_P_IPV6, ETH_TYPE},
    maps::{CLIENT_NH, NH_CACHE, scratch},
    ptr::{self, ptr_at},
    verdict::Verdict,
};

/// The kernel's address families, as `bpf_fib_lookup` takes them.
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// The real server a packet goes to, as the forwarding stage needs it.
pub struct Target<'a> {
    pub id: u32,
    /// The real server's entry (in place in the map, from `lookup::real_server`, or a copy).
    pub real: &'a RealServer,
}

/// The Ethernet type of an address family.
#[inline(always)]
pub fn ethertype(family: u8) -> u16 {
    if family == FAMILY_V6 {
        ETH_P_IPV6
    } else {
        ETH_P_IP
    }
}

/// The next hop toward a real server: from this CPU's cache while fresh, else from the FIB
/// (and cached again). For a `tun` real server of a family the config names no director
/// address of, the FIB also gives the tunnel's source: the route's preferred source, as
/// IPVS takes it (so route and address changes are followed within the cache's lifetime).
#[inline(always)]
pub fn next_hop(
    ctx: &XdpContext,
    to: &Target,
    cfg: &GlobalConfig,
    now: u64,
) -> Result<NextHop, Verdict> {
    let Some(c) = NH_CACHE.get_ptr_mut(to.id) else {
        // Ids beyond the cache's size do not exist (REALS has the same size).
        return Err(Verdict::drop(reason::DROP_BAD_REAL));
    };
    // SAFETY: a per-CPU slot, only this CPU touches it while this program runs.
    let c = unsafe { &mut *c };
    if c.expires_ns > now {
        return Ok(*c);
    }
    let v6 = to.real.family == FAMILY_V6;
    let src_from_route =
        to.real.method == FWD_TUN && ((v6 && cfg.src6 == [0; 4]) || (!v6 && cfg.src4 == 0));
    let flags = if src_from_route {
        BPF_FIB_LOOKUP_SRC
    } else {
        0
    };
    let mut nh = if v6 {
        fib(ctx, AF_INET6, &cfg.src6, &to.real.addr, flags)?
    } else {
        fib(
            ctx,
            AF_INET,
            &[cfg.src4, 0, 0, 0],
            &[to.real.addr[0], 0, 0, 0],
            flags,
        )?
    };
    nh.expires_ns = now + NH_CACHE_TTL_NS;
    *c = nh;
    Ok(nh)
}

/// The next hop toward a client of family `family` (`dst`), for a reply leaving with source
/// `src` (its VIP): from this CPU's cache while fresh and made for the same lookup (client,
/// source, ingress interface), else from the FIB (and cached again; a failed lookup is not).
/// A client's route or gateway change is followed within the cache's lifetime, as a real
/// server's is.
#[inline(always)]
pub fn client_next_hop(
    ctx: &XdpContext,
    family: u8,
    src: &[u32; 4],
    dst: &[u32; 4],
    now: u64,
) -> Result<NextHop, Verdict> {
    let ifindex = ctx.ingress_ifindex() as u32;
    let v6 = family == FAMILY_V6;
    // Word by word (an array comparison may become a `bcmp` call); IPv4's first word only.
    let same = |a: &[u32; 4], b: &[u32; 4]| {
        a[0] == b[0] && (!v6 || (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) == 0)
    };
    let cached = CLIENT_NH.get_ptr_mut(client_nh_slot(family, dst));
    if let Some(c) = cached {
        // SAFETY: a per-CPU slot, only this CPU touches it while this program runs.
        let c = unsafe { &*c };
        if c.nh.expires_ns > now
            && c.family == family
            && c.ifindex == ifindex
            && same(&c.dst, dst)
            && same(&c.src, src)
        {
            return Ok(c.nh);
        }
    }
    let mut nh = if v6 {
        fib_v6(ctx, src, dst)?
    } else {
        fib_v4(ctx, src[0], dst[0])?
    };
    nh.expires_ns = now + NH_CACHE_TTL_NS;
    if let Some(c) = cached {
        // SAFETY: as above.
        let c = unsafe { &mut *c };
        c.dst = *dst;
        c.src = *src;
        c.ifindex = ifindex;
        c.family = family;
        c.nh = nh;
    }
    Ok(nh)
}

/// What the FIB lookup that just failed with `drop_fib_no_neigh` left in this CPU's scratch
/// slot: the kernel fills in the egress interface and the route's source (with
/// `BPF_FIB_LOOKUP_SRC`) before it looks for the neighbour, so a packet it is to forward
/// itself (`tun`) can still be given its outer source. No MACs (whatever the slot held), and
/// the MTU member holds what went in (0: the kernel reports the MTU only on success); never
/// cached. Every field is read from the map, so the verifier knows no more of them than of
/// a cached next hop's.
#[inline(always)]
pub fn unresolved() -> Result<NextHop, Verdict> {
    let Some(s) = scratch() else {
        // Index 0 of a one-entry per-CPU array always exists; this arm is for the type checker.
        return Err(Verdict::drop(reason::DROP_FIB_NO_NEIGH));
    };
    // SAFETY: this CPU's scratch slot; the union members as the helper left them (IPv4's
    // source in the first word).
    let p = unsafe { &(*s).fib };
    Ok(NextHop {
        ifindex: p.ifindex,
        smac: p.smac,
        dmac: p.dmac,
        expires_ns: 0,
        onlink: 0,
        _pad: 0,
        mtu: unsafe { p.__bindgen_anon_1.mtu_result },
        _pad2: [0; 4],
        src: unsafe { p.__bindgen_anon_3.ipv6_src },
    })
}

/// Marks this packet as one the kernel is to forward, counted as `reason` (see
/// `Scratch::to_kernel`; `director` clears it for every packet).
#[inline(always)]
pub fn set_to_kernel(reason: u32) {
    if let Some(s) = scratch() {
        // SAFETY: this CPU's slot.
        unsafe { core::ptr::write_volatile(core::ptr::addr_of_mut!((*s).to_kernel), reason) };
    }
}

/// The reason [`set_to_kernel`] marked this packet with (0: none), read from the map each
/// time.
#[inline(always)]
pub fn to_kernel() -> u32 {
    match scratch() {
        // SAFETY: this CPU's slot.
        Some(s) => unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*s).to_kernel)) },
        None => 0,
    }
}

/// Keeps the frame's MAC addresses (at offset 0) in this CPU's scratch slot (word by word:
/// an array copy would become a `memmove` call).
#[inline(always)]
pub fn keep_macs(ctx: &XdpContext) -> Result<(), Verdict> {
    let lost = Verdict::drop(reason::DROP_NO_HEADROOM);
    let (Some(s), Some(m)) = (scratch(), ptr_at::<[u32; 3]>(ctx, 0)) else {
        return Err(lost);
    };
    let m = m as *const u32;
    // SAFETY: this CPU's slot; the 12 bytes were bounds-checked.
    unsafe {
        (*s).macs[0] = m.read_unaligned();
        (*s).macs[1] = m.add(1).read_unaligned();
        (*s).macs[2] = m.add(2).read_unaligned();
    }
    Ok(())
}

/// Writes an Ethernet header of the MACs [`keep_macs`] kept and `ethertype` at offset 0.
#[inline(always)]
pub fn restore_macs(ctx: &XdpContext, ethertype: u16) -> Result<(), Verdict> {
    let lost = Verdict::drop(reason::DROP_NO_HEADROOM);
    let (Some(s), Some(eth)) = (scratch(), ptr_at::<[u8; ETH_HLEN]>(ctx, 0)) else {
        return Err(lost);
    };
    let w = eth as *mut u32;
    // SAFETY: this CPU's slot; the 14 bytes were bounds-checked above.
    unsafe {
        w.write_unaligned((*s).macs[0]);
        w.add(1).write_unaligned((*s).macs[1]);
        w.add(2).write_unaligned((*s).macs[2]);
        (w.add(3) as *mut u16).write_unaligned(ethertype.to_be());
    }
    Ok(())
}

/// Writes the next hop's MAC addresses and `ethertype` into the frame's Ethernet header (at
/// offset 0) and sends it: back out of the ingress interface (XDP_TX) or out of another
/// (redirect). `tx_reason` is the reason counted for XDP_TX.
#[inline(always)]
pub fn send(
    ctx: &XdpContext,
    nh: &NextHop,
    ethertype: u16,
    tx_reason: u32,
) -> Result<Verdict, Verdict> {
    let eth: *mut [u8; ETH_HLEN] = ptr_at(ctx, 0).ok_or(Verdict::drop(reason::DROP_NO_HEADROOM))?;
    let mut hdr = [0u8; ETH_HLEN];
    hdr[..ETH_ALEN].copy_from_slice(&nh.dmac);
    hdr[ETH_ALEN..ETH_TYPE].copy_from_slice(&nh.smac);
    hdr[ETH_TYPE..].copy_from_slice(&ethertype.to_be_bytes());
    // SAFETY: bounds-checked above.
    unsafe { eth.write_unaligned(hdr) };
    if nh.ifindex == ctx.ingress_ifindex() as u32 {
        Ok(Verdict::tx(tx_reason))
    } else {
        // SAFETY: helper without memory arguments.
        unsafe { bpf_redirect(nh.ifindex, 0) };
        Ok(Verdict::redirect(reason::REDIRECT))
    }
}

/// Asks the kernel's FIB for the next hop toward IPv4 `dst` (network order), as if the packet
/// had been routed from the ingress interface.
#[inline(always)]
pub fn fib_v4(ctx: &XdpContext, src: u32, dst: u32) -> Result<NextHop, Verdict> {
    fib(ctx, AF_INET, &[src, 0, 0, 0], &[dst, 0, 0, 0], 0)
}

/// The same for IPv6.
#[inline(always)]
pub fn fib_v6(ctx: &XdpContext, src: &[u32; 4], dst: &[u32; 4]) -> Result<NextHop, Verdict> {
    fib(ctx, AF_INET6, src, dst, 0)
}

/// `flags`: 0, or `BPF_FIB_LOOKUP_SRC` to have the kernel choose the source address too
/// (Linux 6.8 and later), returned in [`NextHop::src`].
#[inline(always)]
fn fib(
    ctx: &XdpContext,
    family: u8,
    src: &[u32; 4],
    dst: &[u32; 4],
    flags: u32,
) -> Result<NextHop, Verdict> {
    let Some(scratch) = scratch() else {
        // Index 0 of a one-entry per-CPU array always exists; this arm is for the type checker.
        return Err(Verdict::drop(reason::DROP_FIB_NO_ROUTE));
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let p: *mut FibParams = unsafe { core::ptr::addr_of_mut!((*scratch).fib) };
    let rc = unsafe {
        ptr::zero_in_place(p);
        (*p).family = family;
        (*p).ifindex = ctx.ingress_ifindex() as u32;
        if family == AF_INET6 {
            (*p).__bindgen_anon_3.ipv6_src = *src;
            (*p).__bindgen_anon_4.ipv6_dst = *dst;
        } else {
            (*p).__bindgen_anon_3.ipv4_src = src[0];
            (*p).__bindgen_anon_4.ipv4_dst = dst[0];
        }
        bpf_fib_lookup(
            ctx.ctx as *mut _,
            p,
            core::mem::size_of::<FibParams>() as i32,
            flags,
        )
    };
    // SAFETY: fully initialised above and by the helper.
    let p = unsafe { &*p };
    match rc as u32 {
        // On success the kernel leaves the gateway's address in the destination when there is
        // one: the destination unchanged means it is on-link.
        BPF_FIB_LKUP_RET_SUCCESS => {
            // SAFETY: reading the union member this family uses.
            let onlink = unsafe {
                if family == AF_INET6 {
                    p.__bindgen_anon_4.ipv6_dst == *dst
                } else {
                    p.__bindgen_anon_4.ipv4_dst == dst[0]
                }
            };
            Ok(NextHop {
                ifindex: p.ifindex,
                smac: p.smac,
                dmac: p.dmac,
                expires_ns: 0,
                onlink: onlink as u8,
                _pad: 0,
                // SAFETY: on success the kernel (5.12 and later) leaves the path MTU in the
                // union's output member (tot_len was 0 on the way in, so no MTU check failed).
                mtu: unsafe { p.__bindgen_anon_1.mtu_result },
                _pad2: [0; 4],
                // SAFETY: the source member, as the kernel left it: with BPF_FIB_LOOKUP_SRC
                // the address it chose, else the one passed in. IPv4's is the union's first
                // word, the rest zeroed above.
                src: unsafe { p.__bindgen_anon_3.ipv6_src },
            })
        }
        BPF_FIB_LKUP_RET_NO_NEIGH => Err(Verdict::drop(reason::DROP_FIB_NO_NEIGH)),
        // The route gives no source (the egress interface has no address of the family).
        BPF_FIB_LKUP_RET_NO_SRC_ADDR => Err(Verdict::drop(reason::DROP_NO_SOURCE_ADDR)),
        BPF_FIB_LKUP_RET_FWD_DISABLED => Err(Verdict::drop(reason::DROP_FIB_FWD_DISABLED)),
        _ => Err(Verdict::drop(reason::DROP_FIB_NO_ROUTE)),
    }
}
