//! The address filter (`lb_common::ADDR_FILTER_BITS_LOG2`): the bit of every VIP in the first
//! bitmap, of every `nat` real server in the second, so that `lb` looks only their packets
//! up; kept for removed real servers whose connections may still flow.

use std::net::IpAddr;

use lb_model::{addr::addr_words, config::Config};

use super::ids::RemovedReal;
use crate::dataplane::{Plan, Step};

/// The filter words a config needs, with those of the removed real servers that wait.
pub fn words_for(cfg: &Config, removed: &[RemovedReal]) -> Vec<u64> {
    let words = lb_common::ADDR_FILTER_WORDS as usize;
    let mut f = vec![0u64; 2 * words];
    let mut set = |a: IpAddr, base: usize| {
        let bit = lb_common::hash::addr_filter_bit(&addr_words(a).0) as usize;
        f[base + (bit >> 6)] |= 1 << (bit & 63);
    };
    // A firewall-mark destination prefix of few addresses: each one's bit (a wider one
    // turns the filter off for destinations, `mark_flags`).
    if cfg.classifies() {
        for r in cfg.mark_rules() {
            let p = r.destination;
            if p.size() <= lb_common::MARK_FILTER_MAX_ADDRS as u128 {
                for i in 0..p.size() {
                    set(offset(p.addr, i), 0);
                }
            }
        }
    }
    for s in &cfg.services {
        // A firewall-mark service has no VIP of its own (its destinations are set above).
        if !s.is_fwmark() {
            set(s.vip, 0);
        }
        for a in s.real_servers.iter().filter_map(|r| r.nat_addr()) {
            set(a, words);
        }
    }
    for r in removed {
        if let Some(v) = r.vip {
            set(v, 0);
        }
        if let Some(a) = r.nat {
            set(a, words);
        }
    }
    f
}

/// The address `i` after `a`.
fn offset(a: IpAddr, i: u128) -> IpAddr {
    match a {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a).wrapping_add(i as u32)).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a).wrapping_add(i)).into()),
    }
}

/// The settings' firewall-mark flags: `CFG_F_MARKS` when a packet can reach a firewall-mark
/// service, with `CFG_F_MARKS_WIDE` when some mark's destination prefix is too wide for the
/// address filter.
pub fn mark_flags(cfg: &Config) -> u32 {
    if !cfg.classifies() {
        return 0;
    }
    let wide = cfg
        .mark_rules()
        .iter()
        .any(|r| r.destination.size() > lb_common::MARK_FILTER_MAX_ADDRS as u128);
    lb_common::CFG_F_MARKS | if wide { lb_common::CFG_F_MARKS_WIDE } else { 0 }
}

/// The words that differ from what the map holds, as plan steps.
pub fn write(plan: &mut Plan, had: &[u64], want: &[u64]) {
    for (i, (h, w)) in had.iter().zip(want).enumerate() {
        if h != w {
            plan.push(Step::FilterWord {
                index: i as u32,
                word: *w,
            });
        }
    }
}
