//! SCTP (RFC 9260) in the per-packet path: the CRC32c update `nat` makes when it changes a
//! port (`parse.rs` reads the first chunk for IPVS's state table, `lb_common::proto_sctp`).
//! An address change alone leaves the CRC32c as it is: unlike TCP's and UDP's checksums it
//! covers no pseudo-header (RFC 9260 6.8).

use core::ffi::c_void;

use aya_ebpf::{helpers::bpf_loop, programs::XdpContext};
use lb_common::{
    CRC_SHIFT_BITS, CrcShiftTable, SCTP_CSUM, SCTP_HLEN, crc_shift_table, crc32c_shift_step,
};

use crate::{maps::scratch, ptr::ptr_at};

/// The multiplication tables of `lb_common::crc32c_ports_update`, built at compile time (64 KiB of
/// read-only data: the program's `.rodata` map).
static CRC_SHIFT: CrcShiftTable = crc_shift_table();

/// Writes `port` into the SCTP header at `l4` (at `port_off`: 0 for the source, 2 for the
/// destination) and updates the CRC32c of the `len`-byte packet for the change, without
/// reading its payload: the ports' change advanced over `len` bytes (`crc32c_ports_update`),
/// one table step per bit of `len` in a `bpf_loop` (the verifier checks the step once, not
/// once per path that reaches it). The caller checked that the common header is in the
/// packet.
#[inline(always)]
pub fn set_port(ctx: &XdpContext, l4: usize, port_off: usize, port: u16, len: usize) -> Option<()> {
    let w = scratch()?;
    let h: *mut u8 = ptr_at::<[u8; SCTP_HLEN]>(ctx, l4)? as *mut u8;
    // SAFETY: every access to `h` is inside the 12 bytes checked above; `w` is this CPU's
    // scratch slot, used by nothing else during this run.
    unsafe {
        let ports = h as *mut u32;
        let old = ports.read_unaligned();
        (h.add(port_off) as *mut u16).write_unaligned(port);
        let new = ports.read_unaligned();
        if new == old {
            return Some(());
        }
        (*w).crc.crc = old ^ new;
        (*w).crc.len = (len & 0xffff) as u32;
        bpf_loop(
            CRC_SHIFT_BITS as u32,
            crc_step as *mut c_void,
            core::ptr::null_mut(),
            0,
        );
        // The helper moved nothing: the checked pointer still holds.
        let crc_p = h.add(SCTP_CSUM) as *mut u32;
        // The field holds the CRC's bytes least significant first (RFC 9260 appendix A), as
        // a little-endian load reads them on this host; the update is an XOR.
        crc_p.write_unaligned(crc_p.read_unaligned() ^ (*w).crc.crc);
    }
    Some(())
}

/// Step `i` of [`set_port`]'s update: `crc32c_shift`'s step for bit `i` of the length.
extern "C" fn crc_step(i: u32, _ctx: *mut c_void) -> i64 {
    let Some(w) = scratch() else {
        return 1;
    };
    // SAFETY: this CPU's slot; `set_port` filled it before the loop.
    let w = unsafe { &mut (*w).crc };
    w.crc = crc32c_shift_step(
        &CRC_SHIFT,
        w.crc,
        w.len,
        (i as usize) & (CRC_SHIFT_BITS - 1),
    );
    0
}
