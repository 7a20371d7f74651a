//! Benchmark-only programs for `cargo xtask bench` (never attached by lbd).
//!
//! `BPF_PROG_TEST_RUN` repeats reuse one buffer without restoring it, so a program that
//! encapsulates would see its own output on the next repeat. `bench_shim` undoes that (strips
//! an IPIP header, restores the first 64 bytes), gives the packet the flow of this repeat (a
//! 32-bit tuple number in the source address and port: one fixed flow, a new flow each repeat,
//! first and second packets of new flows, or a flood among established flows), and
//! tail-calls the program under test; every measured program, baselines included, runs
//! through it so that its small cost cancels out of the ratios.

use aya_ebpf::maps::{HashMap, LruHashMap};
use aya_ebpf::{
    bindings::xdp_action,
    helpers::{bpf_redirect, bpf_xdp_adjust_head},
    programs::XdpContext,
};
use lb_common::{
    BENCH_FLOOD, BENCH_NEW, BENCH_PAIRS, BENCH_TABLE_DELETE, BENCH_TABLE_HASH16,
    BENCH_TABLE_HASH40, BENCH_TABLE_LRU16, BENCH_TABLE_LRU16_PERCPU, BENCH_TABLE_LRU40,
    BENCH_TABLE_LRU40_PERCPU, BenchState, BenchWords, FAMILY_V4, FlowKey, PROTO_TCP, reason,
};

use crate::{
    count::count,
    csum,
    headers::{
        ETH_ALEN, ETH_HLEN, ETH_P_IP, ETH_P_IPV6, IP_CSUM, IP_PROTO, IP_SADDR, IP6_NEXTHDR,
        IPPROTO_IPIP, IPPROTO_IPV6, IPV4_HLEN_MIN, IPV6_HLEN, TCP_FLAGS, TCP_HLEN_MIN,
    },
    maps::{
        BENCH_PROGS, BENCH_STATE, BT_HASH16, BT_HASH40, BT_LRU16, BT_LRU16_PERCPU, BT_LRU40,
        BT_LRU40_PERCPU, scratch,
    },
    parse::eth_proto,
    ptr::{ptr_at, zero_in_place},
};

#[inline(always)]
pub fn shim(ctx: &XdpContext) -> u32 {
    // Strip the outer header `lb` added on the previous repeat: 20 bytes of IPv4 or 40 of
    // IPv6 carrying IPIP or IPv6 (lb's outer headers have no options or extensions).
    let outer = match eth_proto(ctx) {
        Ok(ETH_P_IP) => match ptr_at::<u8>(ctx, ETH_HLEN + IP_PROTO) {
            // SAFETY: in bounds.
            Some(p) if matches!(unsafe { *p }, IPPROTO_IPIP | IPPROTO_IPV6) => IPV4_HLEN_MIN,
            _ => 0,
        },
        Ok(ETH_P_IPV6) => match ptr_at::<u8>(ctx, ETH_HLEN + IP6_NEXTHDR) {
            // SAFETY: in bounds.
            Some(p) if matches!(unsafe { *p }, IPPROTO_IPIP | IPPROTO_IPV6) => IPV6_HLEN,
            _ => 0,
        },
        _ => 0,
    };
    // SAFETY: shrinks within the packet (the outer header was there). The Ethernet header is
    // rewritten by the restore below.
    if outer != 0 && unsafe { bpf_xdp_adjust_head(ctx.ctx, outer as i32) } != 0 {
        return xdp_action::XDP_ABORTED;
    }
    if let Some(st) = BENCH_STATE.get_ptr_mut(0) {
        // SAFETY: per-CPU slot.
        let st = unsafe { &mut *st };
        if st.restore != 0 {
            let Some(head) = ptr_at::<[u64; 8]>(ctx, 0) else {
                return xdp_action::XDP_ABORTED;
            };
            let head = head as *mut u64;
            let mut i = 0;
            while i < 8 {
                // SAFETY: inside the 64 bytes checked above. Volatile: no memcpy call.
                unsafe { head.add(i).write_volatile(st.head[i]) };
                i += 1;
            }
        }
        if matches!(eth_proto(ctx), Ok(ETH_P_IP)) && set_tuple(ctx, st).is_none() {
            return xdp_action::XDP_ABORTED;
        }
    }
    // SAFETY: tail call into a program of the same type; returns only if slot 0 is empty.
    unsafe { BENCH_PROGS.tail_call(ctx, 0) };
    xdp_action::XDP_ABORTED
}

/// Gives an IPv4 packet (no options: the bench's have none) the flow of this repeat, by the
/// shim's mode (`lb_common::BENCH_*`). Every mode writes a tuple, so that every case pays the
/// same shim: the fixed flow is tuple number `counter`, which then does not move.
#[inline(always)]
fn set_tuple(ctx: &XdpContext, st: &mut BenchState) -> Option<()> {
    let seq = st.seq;
    st.seq = seq.wrapping_add(1);
    let mut flags = 0u32;
    let t = match st.mode {
        BENCH_NEW => {
            st.counter = st.counter.wrapping_add(1);
            st.counter
        }
        BENCH_PAIRS => {
            if seq & 1 == 0 {
                st.counter = st.counter.wrapping_add(1);
                flags = st.first_flags;
            }
            st.counter
        }
        BENCH_FLOOD if st.every != 0 && st.est_n != 0 && seq % st.every == 0 => {
            let i = st.est_i;
            st.est_i = if i + 1 >= st.est_n { 0 } else { i + 1 };
            st.est_base.wrapping_add(i)
        }
        BENCH_FLOOD => {
            st.counter = st.counter.wrapping_add(1);
            flags = st.first_flags;
            st.counter
        }
        _ => st.counter,
    };
    let ip = ptr_at::<[u8; IPV4_HLEN_MIN]>(ctx, ETH_HLEN)? as *mut u8;
    let l4 = ptr_at::<[u8; TCP_HLEN_MIN]>(ctx, ETH_HLEN + IPV4_HLEN_MIN)? as *mut u8;
    // SAFETY: every access is inside the IPv4 header and the 20 bytes after it checked above.
    unsafe {
        let addr_lo = ip.add(IP_SADDR + 2) as *mut u16;
        let old = addr_lo.read_unaligned();
        let new = ((t >> 16) as u16).to_be();
        addr_lo.write_unaligned(new);
        let check = ip.add(IP_CSUM) as *mut u16;
        check.write_unaligned(csum::replace16(check.read_unaligned(), old, new));
        (l4 as *mut u16).write_unaligned((t as u16).to_be());
        if flags != 0 && *ip.add(IP_PROTO) == PROTO_TCP {
            *l4.add(TCP_FLAGS) = flags as u8;
        }
    }
    Some(())
}

/// Baseline: swap the MAC addresses and send the frame back (the least a forwarder does).
#[inline(always)]
pub fn tx(ctx: &XdpContext) -> u32 {
    match ptr_at::<[u8; 2 * ETH_ALEN]>(ctx, 0) {
        Some(p) => {
            // SAFETY: in bounds.
            let mut m = unsafe { p.read_unaligned() };
            let mut i = 0;
            while i < ETH_ALEN {
                m.swap(i, i + ETH_ALEN);
                i += 1;
            }
            // SAFETY: in bounds.
            unsafe { p.write_unaligned(m) };
            xdp_action::XDP_TX
        }
        None => xdp_action::XDP_PASS,
    }
}

/// The veth chain's floor: redirect every packet to the interface the bench names
/// (`BenchState::redirect`), the least a forwarder between two interfaces does.
#[inline(always)]
pub fn redirect(_ctx: &XdpContext) -> u32 {
    let Some(st) = BENCH_STATE.get_ptr(0) else {
        return xdp_action::XDP_ABORTED;
    };
    // SAFETY: per-CPU slot.
    let ifindex = unsafe { (*st).redirect };
    // SAFETY: a helper call; the kernel checks the index.
    unsafe { bpf_redirect(ifindex, 0) as u32 }
}

/// The experiment tables' program (`lb_common::BENCH_TABLE_*`): what a connection table
/// costs a packet, apart from everything else `lb` does. The key is the IPv4 packet's flow
/// (the bench's packets: no options); a hit counts `conn_hit`, a miss inserts and counts
/// `conn_new` (or `conn_insert_failed`); with `BENCH_TABLE_DELETE` the key is deleted. Every
/// packet counts `tx`, so the bench checks its regime as it does `lb`'s.
#[inline(always)]
pub fn table(ctx: &XdpContext) -> u32 {
    let Some(st) = BENCH_STATE.get_ptr(0) else {
        return xdp_action::XDP_ABORTED;
    };
    // SAFETY: per-CPU slot.
    let op = unsafe { (*st).table };
    let Some(ip) = ptr_at::<[u32; 5]>(ctx, ETH_HLEN) else {
        return xdp_action::XDP_ABORTED;
    };
    let Some(ports) = ptr_at::<u32>(ctx, ETH_HLEN + IPV4_HLEN_MIN) else {
        return xdp_action::XDP_ABORTED;
    };
    // SAFETY: both checked above.
    let (src, dst, ports) = unsafe {
        let ip = ip as *const u32;
        (
            ip.add(3).read_unaligned(),
            ip.add(4).read_unaligned(),
            ports.read_unaligned(),
        )
    };
    let k16 = BenchWords {
        w: [src, dst, ports, PROTO_TCP as u32],
    };
    // The 40-byte key is built in the scratch slot: on the stack (4-aligned) LLVM would store
    // it 8 bytes at a time, which the verifier refuses.
    let Some(scratch) = scratch() else {
        return xdp_action::XDP_ABORTED;
    };
    // SAFETY: this CPU's scratch slot; nothing else runs on it during this program.
    let k40: &FlowKey = unsafe {
        let k = core::ptr::addr_of_mut!((*scratch).pkt.flow);
        zero_in_place(k);
        (*k).src[0] = src;
        (*k).dst[0] = dst;
        (*k).sport = ports as u16;
        (*k).dport = (ports >> 16) as u16;
        (*k).proto = PROTO_TCP;
        (*k).family = FAMILY_V4;
        &*k
    };
    let v = BenchWords { w: [1, 2, 3, 4] };
    let delete = op & BENCH_TABLE_DELETE != 0;
    let r = match op & !BENCH_TABLE_DELETE {
        BENCH_TABLE_HASH16 => entry(&BT_HASH16, &k16, &v, delete),
        BENCH_TABLE_LRU16 => lru_entry(&BT_LRU16, &k16, &v, delete),
        BENCH_TABLE_LRU16_PERCPU => lru_entry(&BT_LRU16_PERCPU, &k16, &v, delete),
        BENCH_TABLE_HASH40 => entry(&BT_HASH40, k40, &v, delete),
        BENCH_TABLE_LRU40 => lru_entry(&BT_LRU40, k40, &v, delete),
        BENCH_TABLE_LRU40_PERCPU => lru_entry(&BT_LRU40_PERCPU, k40, &v, delete),
        _ => return xdp_action::XDP_ABORTED,
    };
    count(r);
    count(reason::TX);
    xdp_action::XDP_TX
}

#[inline(always)]
fn entry<K>(m: &HashMap<K, BenchWords>, k: &K, v: &BenchWords, delete: bool) -> u32 {
    if delete {
        let _ = m.remove(k);
        return reason::CONN_HIT;
    }
    if m.get_ptr(k).is_some() {
        return reason::CONN_HIT;
    }
    match m.insert(k, v, 0) {
        Ok(()) => reason::CONN_NEW,
        Err(_) => reason::CONN_INSERT_FAILED,
    }
}

#[inline(always)]
fn lru_entry<K>(m: &LruHashMap<K, BenchWords>, k: &K, v: &BenchWords, delete: bool) -> u32 {
    if delete {
        let _ = m.remove(k);
        return reason::CONN_HIT;
    }
    if m.get_ptr(k).is_some() {
        return reason::CONN_HIT;
    }
    match m.insert(k, v, 0) {
        Ok(()) => reason::CONN_NEW,
        Err(_) => reason::CONN_INSERT_FAILED,
    }
}
