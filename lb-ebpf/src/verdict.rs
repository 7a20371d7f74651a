//! A verdict is an XDP action plus the reason counted for it (`count.rs` counts it).

use aya_ebpf::bindings::xdp_action;

#[derive(Clone, Copy)]
pub struct Verdict {
    pub action: u32,
    pub reason: u32,
}

impl Verdict {
    #[inline(always)]
    pub const fn pass(reason: u32) -> Self {
        Self {
            action: xdp_action::XDP_PASS,
            reason,
        }
    }
    #[inline(always)]
    pub const fn drop(reason: u32) -> Self {
        Self {
            action: xdp_action::XDP_DROP,
            reason,
        }
    }
    #[inline(always)]
    pub const fn tx(reason: u32) -> Self {
        Self {
            action: xdp_action::XDP_TX,
            reason,
        }
    }
    #[inline(always)]
    pub const fn redirect(reason: u32) -> Self {
        Self {
            action: xdp_action::XDP_REDIRECT,
            reason,
        }
    }
}

/// The verdict of a stage chain's result, whichever way it ended.
#[inline(always)]
pub fn of(r: Result<Verdict, Verdict>) -> Verdict {
    match r {
        Ok(v) => v,
        Err(v) => v,
    }
}
