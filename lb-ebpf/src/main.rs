//! lb's XDP programs. `lb` is the director's per-packet path; `decap` runs on real servers;
//! the `bench_*` programs exist only for `cargo xtask bench`.
#![no_std]
#![no_main]
// `atomic_xadd` for the real servers' connection counts (see conn.rs).
#![allow(internal_features)]
#![feature(core_intrinsics)]
#![feature(asm_experimental_arch)]
// Map keys and values are passed by reference on purpose: by value, each call copies the
// 40-byte key onto the 512-byte stack first.
#![allow(clippy::needless_borrows_for_generic_args)]

// The modules in layers, top down; each imports only from layers below its own (checked by
// `lb-daemon/tests/map_layout.rs`, `lb_ebpf_modules_import_only_lower_layers`):
//   the programs' bodies: director (lb), decap, bench, trace; then icmp (lb_icmp);
//   forwarding: xmit (tun, dr, nat; over too_big; over route and partial);
//   the connection table: conn (over its unconfirmed slots, flood mode and the confirmed
//   tables, over the real servers' counts and the sync sender's change reports); over
//   persist and sched (locality and twos over counted, table);
//   frag, ftp, stats, lookup; count; maps; scratch; parse, vlan;
//   leaves: clock, csum, headers, ptr, verdict.
mod bench;
mod clock;
mod conn;
mod count;
mod csum;
mod decap;
mod director;
mod frag;
mod ftp;
mod headers;
mod icmp;
mod lookup;
mod maps;
mod parse;
mod persist;
mod ptr;
mod sched;
mod scratch;
mod sctp;
mod stats;
mod trace;
mod verdict;
mod vlan;
mod xmit;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};

/// The director: parse, VIP lookup, connection table, scheduler, forward.
#[xdp]
// Inlined into the macro's exported wrapper (one frame fewer on the 512-byte stack).
#[inline(always)]
pub fn lb(ctx: XdpContext) -> u32 {
    let (v, parsed) = if count::arrival(&ctx) {
        (
            verdict::Verdict::pass(lb_common::reason::PASS_OTHER_HOST),
            false,
        )
    } else {
        match vlan::pop(&ctx) {
            Ok(tags) => {
                let r = director::process(&ctx, &tags);
                (verdict::of(vlan::push(&ctx, &tags, r)), true)
            }
            Err(v) => (v, false),
        }
    };
    count::count(v.reason);
    count::verdict(&ctx, v.action);
    trace::emit(&v, parsed);
    v.action
}

/// ICMP to or about a VIP, tail-called by `lb` (slot `lb_common::prog_slot::ICMP`).
#[xdp]
pub fn lb_icmp(ctx: XdpContext) -> u32 {
    handed_over(&ctx, director::process_icmp(&ctx))
}

/// A flow the connection table does not know, tail-called by `lb` (slot
/// `lb_common::prog_slot::NEW`): its service, scheduler and new entry; hands over to
/// `lb_xmit`.
#[xdp]
pub fn lb_new(ctx: XdpContext) -> u32 {
    handed_over(&ctx, director::process_new(&ctx))
}

/// The forwarding stage of a packet `lb_new` took, tail-called by it (slot
/// `lb_common::prog_slot::XMIT`) once the packet's real server is known (`lb` forwards a
/// flow the table knows itself).
#[xdp]
pub fn lb_xmit(ctx: XdpContext) -> u32 {
    handed_over(&ctx, director::process_xmit(&ctx))
}

/// The end of a program `lb` tail-called: counts the reason and the verdict (`lb` counted the
/// packet's arrival before it handed the packet over) and traces it.
#[inline(always)]
fn handed_over(ctx: &XdpContext, r: Result<verdict::Verdict, verdict::Verdict>) -> u32 {
    let v = verdict::of(r);
    count::count(v.reason);
    count::verdict(ctx, v.action);
    trace::emit(&v, true);
    v.action
}

/// The real server: strip the director's tunnel header.
#[xdp]
pub fn decap(ctx: XdpContext) -> u32 {
    count::finish(decap::process(&ctx))
}

/// Pass-through, for the far end of a veth: frames a program sends with XDP_TX or
/// XDP_REDIRECT into a veth are only picked up when its peer runs an XDP program (on this
/// kernel, GRO on the peer is not enough: the frames wait in its ring). Tests attach this to
/// the bridge side of the director's veth.
#[xdp]
pub fn pass(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[xdp]
pub fn bench_shim(ctx: XdpContext) -> u32 {
    bench::shim(&ctx)
}

#[xdp]
pub fn bench_tx(ctx: XdpContext) -> u32 {
    bench::tx(&ctx)
}

#[xdp]
pub fn bench_table(ctx: XdpContext) -> u32 {
    bench::table(&ctx)
}

#[xdp]
pub fn bench_redirect(ctx: XdpContext) -> u32 {
    bench::redirect(&ctx)
}

#[xdp]
pub fn bench_drop(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_DROP
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // No panic can be reached (the code has no indexing or unwrap on packet data); the
    // verifier would reject this loop if it were.
    loop {}
}
