//! 802.1Q VLAN tags (and 802.1ad QinQ: at most two tags). A tagged frame has its tags taken
//! out before the director's path runs (which then sees a plain Ethernet frame) and put back
//! before it leaves: a director on a trunk answers each VLAN on that VLAN. A frame the path
//! sends elsewhere (XDP_REDIRECT) is sent back out of the ingress interface instead, still
//! tagged: the FIB names the VLAN device, which cannot transmit XDP frames, and the next hop's
//! MAC addresses it gave are the ones on the tagged segment.

use aya_ebpf::{bindings::xdp_action, helpers::bpf_xdp_adjust_head, programs::XdpContext};
use lb_common::reason;

use crate::{
    headers::{ETH_ALEN, ETH_P_8021AD, ETH_P_8021Q, ETH_TYPE, VLAN_TAG_LEN as TAG_LEN},
    ptr::ptr_at,
    verdict::Verdict,
};

/// The tags taken out of a frame: their bytes as they lay after the MAC addresses (first
/// tag in `outer`, second in `inner`, as they lie in memory), and how many bytes that is (0:
/// the frame had none). Plain words: byte arrays would be spilled to the stack byte by byte.
#[derive(Clone, Copy)]
pub struct Tags {
    pub outer: u32,
    pub inner: u32,
    pub len: u32,
}

/// The frame's MAC addresses as two words (`bpf_xdp_adjust_head` moves the frame's start,
/// so they are copied across it).
#[derive(Clone, Copy)]
struct Macs(u64, u32);

#[inline(always)]
fn read_macs(ctx: &XdpContext) -> Option<Macs> {
    let p: *const u8 = ptr_at::<[u8; 2 * ETH_ALEN]>(ctx, 0)? as *const u8;
    // SAFETY: the 12 bytes are in the packet (checked above).
    unsafe {
        Some(Macs(
            (p as *const u64).read_unaligned(),
            (p.add(8) as *const u32).read_unaligned(),
        ))
    }
}

#[inline(always)]
fn write_macs(ctx: &XdpContext, m: Macs) -> Option<()> {
    let p: *mut u8 = ptr_at::<[u8; 2 * ETH_ALEN]>(ctx, 0)? as *mut u8;
    // SAFETY: as above.
    unsafe {
        (p as *mut u64).write_unaligned(m.0);
        (p.add(8) as *mut u32).write_unaligned(m.1);
    }
    Some(())
}

/// The TPID half of a tag word as it lies in memory.
#[inline(always)]
fn is_tag(word: u32) -> bool {
    let t = u16::from_be(word as u16);
    t == ETH_P_8021Q || t == ETH_P_8021AD
}

/// Takes up to two VLAN tags out of the frame. A third tag (or a frame too short to hold its
/// tags) is not ours: the host stack gets it as it came.
#[inline(always)]
pub fn pop(ctx: &XdpContext) -> Result<Tags, Verdict> {
    let mut tags = Tags {
        outer: 0,
        inner: 0,
        len: 0,
    };
    let Some(t) = ptr_at::<u32>(ctx, ETH_TYPE) else {
        return Ok(tags);
    };
    // SAFETY: bounds-checked above.
    tags.outer = unsafe { t.read_unaligned() };
    if !is_tag(tags.outer) {
        return Ok(tags);
    }
    let short = Verdict::pass(reason::PASS_SHORT_ETH);
    // Two tag words and the ethertype (or a third tag) after the MAC addresses.
    let w: *const u8 =
        ptr_at::<[u8; ETH_TYPE + 2 * TAG_LEN + 2]>(ctx, 0).ok_or(short)? as *const u8;
    // SAFETY: bounds-checked above.
    let (inner, third) = unsafe {
        (
            (w.add(ETH_TYPE + TAG_LEN) as *const u32).read_unaligned(),
            (w.add(ETH_TYPE + 2 * TAG_LEN) as *const u16).read_unaligned(),
        )
    };
    if is_tag(inner) {
        if is_tag(third as u32) {
            return Err(Verdict::pass(reason::PASS_VLAN_DEPTH));
        }
        tags.inner = inner;
        tags.len = 2 * TAG_LEN as u32;
    } else {
        tags.len = TAG_LEN as u32;
    }
    let macs = read_macs(ctx).ok_or(short)?;
    // SAFETY: moves ctx->data forward inside the frame (the tags are in it).
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, tags.len as i32) } != 0 {
        return Err(short);
    }
    write_macs(ctx, macs).ok_or(short)?;
    Ok(tags)
}

/// Puts the tags back after the path ran: a frame that leaves (or goes to the host stack) is
/// tagged as it came; a redirect becomes XDP_TX (see the module comment).
#[inline(always)]
pub fn push(
    ctx: &XdpContext,
    tags: &Tags,
    r: Result<Verdict, Verdict>,
) -> Result<Verdict, Verdict> {
    if tags.len == 0 {
        return r;
    }
    let v = match r {
        Ok(v) => v,
        Err(v) => v,
    };
    let v = match v.action {
        xdp_action::XDP_DROP | xdp_action::XDP_ABORTED => return Err(v),
        xdp_action::XDP_REDIRECT => Verdict::tx(reason::TX_VLAN_REDIRECT),
        _ => v,
    };
    let lost = Verdict::drop(reason::DROP_NO_HEADROOM);
    let macs = read_macs(ctx).ok_or(lost)?;
    // SAFETY: gives back the headroom `pop` took.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -(tags.len as i32)) } != 0 {
        return Err(lost);
    }
    write_macs(ctx, macs).ok_or(lost)?;
    let t: *mut u32 = ptr_at::<[u32; 2]>(ctx, ETH_TYPE).ok_or(lost)? as *mut u32;
    // SAFETY: bounds-checked above (a popped frame is at least 14 bytes long, so with its
    // tags back it holds both words; the second is only written for two tags).
    unsafe {
        t.write_unaligned(tags.outer);
        if tags.len == 2 * TAG_LEN as u32 {
            t.add(1).write_unaligned(tags.inner);
        }
    }
    Ok(v)
}
