//! Lookups of what lbd configured: the address filter, the VIP's service, the director-wide
//! settings, a real server (and a `nat` reply's source), its overload mark and a scheduler-table cell. Each reads one map
//! and copies out or points into what it found.

use core::ffi::c_void;

use aya_ebpf::helpers::bpf_loop;
use lb_common::{
    ADDR_FILTER_WORDS, CFG_F_MARKS, FAMILY_V4, FlowKey, GlobalConfig, MARK_RULES_MAX, MarkRules,
    PROTO_FWMARK, REAL_F_NAT_DEST, RealServer, Service, VipKey, hash::addr_filter_bit,
    mark_full_len, reason,
};

use crate::{
    maps::{
        ADDR_FILTER, CONFIG, MARKS as MARK_RULES, NAT_DESTS, REAL_LIMITS, REALS, SCHED_TABLE,
        SERVICES, scratch,
    },
    verdict::Verdict,
};

/// The address filter: the destination may be a VIP, or the source a `nat` real server.
#[inline(always)]
pub fn maybe_ours(src: &[u32; 4], dst: &[u32; 4]) -> bool {
    filter_bit(addr_filter_bit(dst), 0) || filter_bit(addr_filter_bit(src), ADDR_FILTER_WORDS)
}

#[inline(always)]
fn filter_bit(bit: u32, base: u32) -> bool {
    match ADDR_FILTER.get(base + (bit >> 6)) {
        Some(w) => *w & (1u64 << (bit & 63)) != 0,
        // Every index below the map's size exists; a miss would mean no filter: let it on.
        None => true,
    }
}

/// Stage `vip`: with firewall marks configured (`CFG_F_MARKS`), a packet the classifier
/// marks goes to its mark's service first (IPVS's `ip_vs_service_find` looks a marked
/// packet's fwmark service up before the VIP's); then (destination address, port, protocol)
/// -> service; else the VIP's port-0
/// service (ipvsadm `-t VIP:0 -p`, every port of the VIP and protocol), which a service of
/// the exact port overrides, as in IPVS (`__ip_vs_service_find` then the port-0 find). A
/// miss of both leaves the packet to the host stack. Only a new flow to a VIP's address
/// comes here: the second lookup costs nothing to established flows or to the host's own
/// traffic, which leave at the connection table or the address filter.
///
/// `MARKS` false (`lb_icmp`): no classifier (its frame leaves the walk no room); an ICMP
/// error about a firewall-mark service's connection is not forwarded.
#[inline(always)]
pub fn vip<const MARKS: bool>(flow: &FlowKey, cfg: &GlobalConfig) -> Result<Service, Verdict> {
    let mut key = VipKey {
        addr: flow.dst,
        port: flow.dport,
        proto: flow.proto,
        family: flow.family,
    };
    if MARKS && cfg.flags & CFG_F_MARKS != 0 {
        // The classifier says which key to look up (its mark's service's, or the VIP's):
        // one lookup follows either way, so that the verifier walks the rest of the path
        // once, not once per outcome.
        let Some(s) = scratch() else {
            return Err(Verdict::pass(reason::PASS_NOT_VIP));
        };
        // SAFETY: this CPU's scratch slot; `classify` fills `fkey`.
        let k = unsafe {
            if classify(flow) != 0 {
                &(*s).fkey
            } else {
                &key
            }
        };
        if let Some(svc) = SERVICES.get_ptr(k) {
            // SAFETY: as below.
            return Ok(unsafe { *svc });
        }
    } else if let Some(s) = SERVICES.get_ptr(&key) {
        // SAFETY: copied out at once; the map is NO_PREALLOC, so the element stays valid
        // (RCU) even if lbd replaces it meanwhile.
        return Ok(unsafe { *s });
    }
    key.port = 0;
    match SERVICES.get_ptr(&key) {
        // SAFETY: as above. Port 0 of TCP / UDP is never a marker (those are ICMP's).
        Some(s) => Ok(unsafe { *s }),
        None => Err(Verdict::pass(reason::PASS_NOT_VIP)),
    }
}

/// The classifier: the first rule (in config order) that the packet matches among those of
/// its destination's longest prefix (lbd puts every rule of a containing prefix there too)
/// gives its mark. Returns 1 when that mark has a service, whose services-map key it leaves
/// in the scratch slot (`fkey`); else 0 (no mark, or a mark no service takes: the packet
/// stays the VIP's, as in IPVS). Out of line: `lb`'s own frame has no room for it.
#[inline(never)]
fn classify(flow: &FlowKey) -> u32 {
    let Some(s) = scratch() else {
        return 0;
    };
    // SAFETY: this CPU's scratch slot, used by nothing else during this run. Fields are
    // written one by one, zeros volatile (LLVM merges neighbouring zero stores into a memset
    // call).
    let (key, fkey) = unsafe { (&mut (*s).mkey, &mut (*s).fkey) };
    key.prefix_len = mark_full_len(flow.family);
    key.data.family = flow.family as u32;
    key.data.addr[0] = flow.dst[0];
    key.data.addr[1] = flow.dst[1];
    key.data.addr[2] = flow.dst[2];
    key.data.addr[3] = flow.dst[3];
    let Some(rules) = MARK_RULES.get(&*key) else {
        return 0;
    };
    // SAFETY: as above.
    unsafe { core::ptr::write_volatile(&mut (*s).mark, 0) };
    // The step finds the rules through this stack slot (bpf_loop's context must be on the
    // stack).
    let mut at: *const MarkRules = rules;
    let n = if (rules.count as usize) < MARK_RULES_MAX {
        rules.count
    } else {
        MARK_RULES_MAX as u32
    };
    // SAFETY: the callback matches bpf_loop's contract; the packet is in the scratch slot.
    unsafe {
        bpf_loop(
            n,
            mark_step as *mut c_void,
            &mut at as *mut *const MarkRules as *mut c_void,
            0,
        )
    };
    // SAFETY: as above.
    let mark = unsafe { core::ptr::read_volatile(&(*s).mark) };
    if mark == 0 {
        return 0;
    }
    fkey.addr[0] = mark;
    // SAFETY: plain stores into this CPU's scratch slot.
    unsafe {
        core::ptr::write_volatile(&mut fkey.addr[1], 0);
        core::ptr::write_volatile(&mut fkey.addr[2], 0);
        core::ptr::write_volatile(&mut fkey.addr[3], 0);
        core::ptr::write_volatile(&mut fkey.port, 0);
        core::ptr::write_volatile(&mut fkey.proto, PROTO_FWMARK);
    }
    fkey.family = flow.family;
    if SERVICES.get_ptr(&*fkey).is_some() {
        1
    } else {
        0
    }
}

/// One rule of [`classify`]'s walk (a `bpf_loop` step, checked once by the verifier); returns
/// 1 to stop (the rule matched: its mark is in the scratch slot), 0 to go on.
#[inline(never)]
extern "C" fn mark_step(i: u32, at: *mut c_void) -> i64 {
    let Some(s) = scratch() else {
        return 1;
    };
    // SAFETY: `classify` passed its stack slot holding the rules' map value, valid for the
    // whole run.
    let rules = unsafe { &**(at as *const *const MarkRules) };
    // For the verifier: an index it knows is below MARK_RULES_MAX (a power of two; `classify`
    // never loops further). Read volatile, so that the compiler keeps the mask on the register
    // it indexes with.
    // SAFETY: a read of a local.
    let i = (unsafe { core::ptr::read_volatile(&i) } as usize) & (MARK_RULES_MAX - 1);
    let Some(r) = rules.rules.get(i) else {
        return 1;
    };
    // SAFETY: this CPU's scratch slot; `parse` filled the packet.
    let flow = unsafe { &(*s).pkt.flow };
    let dport = u16::from_be(flow.dport);
    if (r.proto == 0 || r.proto == flow.proto)
        && dport >= r.port_lo
        && dport <= r.port_hi
        && source_in(flow, r.src_len, &r.src)
    {
        // SAFETY: as above.
        unsafe { (*s).mark = r.mark };
        return 1;
    }
    0
}

/// Word `word` (0-3, host order) of the mask of a `bits`-bit address prefix.
#[inline(always)]
pub fn prefix_mask(bits: u32, word: u32) -> u32 {
    let start = word * 32;
    if bits >= start + 32 {
        u32::MAX
    } else if bits <= start {
        0
    } else {
        u32::MAX << (32 - (bits - start))
    }
}

/// Whether the packet's source is in the prefix `src`/`len` (len 0: any).
#[inline(always)]
fn source_in(flow: &FlowKey, len: u8, src: &[u32; 4]) -> bool {
    if len == 0 {
        return true;
    }
    let words = if flow.family == FAMILY_V4 { 1 } else { 4 };
    let bits = len as u32;
    let mut i = 0;
    while i < words {
        let keep = prefix_mask(bits, i as u32);
        if flow.src[i] & keep.to_be() != src[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether a VIP address has a marker entry (lbd writes one per VIP address, key port 0 and
/// protocol ICMP / ICMPv6, so that `lb` answers pings to every VIP).
#[inline(always)]
pub fn is_vip_addr(marker: &VipKey) -> bool {
    SERVICES.get_ptr(marker).is_some()
}

/// The director-wide settings, read in place (the array's one element never moves).
#[inline(always)]
pub fn config() -> Result<&'static GlobalConfig, Verdict> {
    // Index 0 of a one-entry array always exists; the error is for the type checker.
    CONFIG.get(0).ok_or(Verdict::pass(reason::PASS_NOT_IP))
}

/// The real server behind an id (a table cell, a connection entry), in place: lbd never
/// rewrites an entry while anything names its id (a changed real server gets a new one), and
/// a copy would take 48 bytes of the 512-byte stack.
#[inline(always)]
pub fn real_server(id: u32) -> Result<&'static RealServer, Verdict> {
    match REALS.get(id) {
        Some(r) if r.family != 0 => Ok(r),
        _ => Err(Verdict::drop(reason::DROP_BAD_REAL)),
    }
}

/// The address a `nat` reply of real server `r` leaves from (`reply`: the reply direction's
/// flow, real server -> client): its service's VIP, or, for a firewall-mark service's real
/// server ([`REAL_F_NAT_DEST`]), the destination the client opened the connection to, which
/// `lb` kept in `lb_nat_dests` with its first packet.
#[inline(always)]
pub fn nat_source(r: &'static RealServer, reply: &FlowKey) -> Result<&'static [u32; 4], Verdict> {
    if r.flags & REAL_F_NAT_DEST == 0 {
        return Ok(&r.vaddr);
    }
    // SAFETY: a hash map's value, read in place; not preallocated, so an entry lbd removes
    // meanwhile stays whole until this program ends (RCU).
    match unsafe { NAT_DESTS.get(reply) } {
        Some(d) => Ok(&d.addr),
        None => Err(Verdict::drop(reason::DROP_NAT_NO_DEST)),
    }
}

/// Whether a real server is over its upper connection threshold (IPVS's
/// `IP_VS_DEST_F_OVERLOAD`).
#[inline(always)]
pub fn overloaded(id: u32) -> bool {
    matches!(REAL_LIMITS.get(id), Some(l) if l.overloaded != 0)
}

/// The real-server id in scheduler-table slot `i`; 0 if unset.
#[inline(always)]
pub fn cell_id(i: u32) -> u32 {
    match SCHED_TABLE.get(i) {
        Some(&cell) => cell as u32,
        None => 0,
    }
}
