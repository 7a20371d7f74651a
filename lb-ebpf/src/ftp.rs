//! FTP through a `nat` VIP (IPVS's `ip_vs_ftp`), the data plane's half. A control
//! connection's packets (to or from an FTP real server's control port) leave through lbd's
//! FTP helper, which rewrites the real server's `227` replies, adjusts sequence numbers and
//! writes down the data connections the control connection announces ([`to_helper`]); a new
//! flow no service takes may be such a data connection ([`expected`]).

use lb_common::{
    CFG_F_FTP, Expect, FTP_EXPECT_TIMEOUT_NS, FlowKey, GlobalConfig, PROTO_TCP, reason,
};

use crate::{
    count::count,
    maps::{FTP_EXPECT, FTP_HELPER, scratch},
    verdict::Verdict,
};

/// An expected data connection whose first packet `flow` is.
pub enum Expected {
    /// A client's connection to the VIP's port a `227` / `229` reply announced.
    Passive(u32),
    /// A real server's connection to the client's port a `PORT` / `EPRT` named.
    Active(u32),
}

/// The data connection lbd's FTP helper expects for a new flow that no service takes, taken
/// out of the map (one connection per announcement, as in IPVS). The helper keys a passive
/// one by (client, VIP, the VIP's port), an active one by (client, real server, the client's
/// port): a flow is looked up both ways, as a client's and as a real server's.
#[inline(always)]
pub fn expected(flow: &FlowKey, cfg: &GlobalConfig, now: u64) -> Option<Expected> {
    if cfg.flags & CFG_F_FTP == 0 || flow.proto != PROTO_TCP {
        return None;
    }
    if let Some(real) = take(&flow.src, &flow.dst, flow, now) {
        return Some(Expected::Passive(real));
    }
    take(&flow.dst, &flow.src, flow, now).map(Expected::Active)
}

/// Takes the entry of (`client`, `vip`, the flow's destination port) if it is fresh.
#[inline(always)]
fn take(client: &[u32; 4], vip: &[u32; 4], flow: &FlowKey, now: u64) -> Option<u32> {
    let s = scratch()?;
    // SAFETY: this CPU's scratch slot, used by nothing else during this run.
    let k = unsafe { &mut (*s).expect };
    let mut i = 0;
    while i < 4 {
        k.client[i] = client[i];
        k.vip[i] = vip[i];
        i += 1;
    }
    k.port = flow.dport;
    k.proto = flow.proto;
    k.family = flow.family;
    // SAFETY: copied out at once; an LRU element stays valid (RCU) while this program runs.
    let e: Expect = unsafe { *FTP_EXPECT.get_ptr(&*k)? };
    let _ = FTP_EXPECT.remove(&*k);
    // lbd stamps with CLOCK_MONOTONIC, this clock is its coarse reading: up to a tick
    // behind, so a fresh entry may look a little younger than zero.
    if now.saturating_sub(e.created_ns) > FTP_EXPECT_TIMEOUT_NS {
        return None;
    }
    count(reason::FTP_DATA);
    Some(e.real)
}

/// Sends the frame (already rewritten for its next hop) to lbd's FTP helper; None when no
/// helper has its interface in the map (the packet then leaves as any other).
#[inline(always)]
pub fn to_helper() -> Option<Verdict> {
    FTP_HELPER
        .redirect(0, 0)
        .ok()
        .map(|_| Verdict::redirect(reason::FTP_HELPER))
}
