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
    for s in &cfg.services {
        set(s.vip, 0);
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
