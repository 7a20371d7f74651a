//! SCTP (RFC 9260) as IPVS handles it (net/netfilter/ipvs/ip_vs_proto_sctp.c): the chunk
//! types `lb` looks at, IPVS's association states and the table a packet's first chunk moves
//! an association through, which state counts as active, the default timeouts, and the
//! CRC32c arithmetic `nat` needs when it changes a port.
//!
//! The states are kept in [`Conn::state`](crate::Conn::state) as [`CONN_S_SCTP`] plus IPVS's
//! own number (`IP_VS_SCTP_S_*`), so that a state alone says its protocol (TCP's are 0-10,
//! UDP's 16) and the sync wire gets IPVS's number by a subtraction.
//!
//! The event of a packet is its first chunk's type (`sctp_events`), except that an ABORT
//! bundled right after a COOKIE ECHO or COOKIE ACK is the packet's event (`set_sctp_state`);
//! IPVS's three tables are chosen by direction as TCP's are ([`TCP_DIR_INPUT`] for a `nat`
//! client's packet, [`TCP_DIR_OUTPUT`] for its real server's, [`TCP_DIR_INPUT_ONLY`] for a
//! `dr` / `tun` client's).

#[cfg(any(doc, test))]
use crate::TCP_DIR_INPUT;
use crate::{TCP_DIR_INPUT_ONLY, TCP_DIR_OUTPUT};

/// The SCTP common header: source port, destination port, verification tag, checksum.
pub const SCTP_HLEN: usize = 12;
/// The checksum's offset in the common header (CRC32c, RFC 9260 6.8, appendix A).
pub const SCTP_CSUM: usize = 8;
/// A chunk header: type, flags, length (be16).
pub const SCTP_CHUNK_HLEN: usize = 4;

/// Chunk types (RFC 9260 3.2).
pub const SCTP_CID_DATA: u8 = 0;
pub const SCTP_CID_INIT: u8 = 1;
pub const SCTP_CID_INIT_ACK: u8 = 2;
pub const SCTP_CID_ABORT: u8 = 6;
pub const SCTP_CID_SHUTDOWN: u8 = 7;
pub const SCTP_CID_SHUTDOWN_ACK: u8 = 8;
pub const SCTP_CID_ERROR: u8 = 9;
pub const SCTP_CID_COOKIE_ECHO: u8 = 10;
pub const SCTP_CID_COOKIE_ACK: u8 = 11;
pub const SCTP_CID_SHUTDOWN_COMPLETE: u8 = 14;

/// IPVS's events (`ipvs_sctp_event_t`): what a chunk type does to an association.
pub const SCTP_EV_DATA: u8 = 0;
pub const SCTP_EV_INIT: u8 = 1;
pub const SCTP_EV_INIT_ACK: u8 = 2;
pub const SCTP_EV_COOKIE_ECHO: u8 = 3;
pub const SCTP_EV_COOKIE_ACK: u8 = 4;
pub const SCTP_EV_SHUTDOWN: u8 = 5;
pub const SCTP_EV_SHUTDOWN_ACK: u8 = 6;
pub const SCTP_EV_SHUTDOWN_COMPLETE: u8 = 7;
pub const SCTP_EV_ERROR: u8 = 8;
pub const SCTP_EV_ABORT: u8 = 9;
/// The number of events (`IP_VS_SCTP_EVENT_LAST`).
pub const SCTP_EVENTS: u8 = 10;

/// IPVS's `sctp_events`, by chunk type: DATA, SACK, HEARTBEAT, HEARTBEAT ACK, ECNE and CWR
/// are DATA; type 15 is past IPVS's table, so DATA too.
const EVENT_OF: [u8; 16] = [
    SCTP_EV_DATA,
    SCTP_EV_INIT,
    SCTP_EV_INIT_ACK,
    SCTP_EV_DATA,
    SCTP_EV_DATA,
    SCTP_EV_DATA,
    SCTP_EV_ABORT,
    SCTP_EV_SHUTDOWN,
    SCTP_EV_SHUTDOWN_ACK,
    SCTP_EV_ERROR,
    SCTP_EV_COOKIE_ECHO,
    SCTP_EV_COOKIE_ACK,
    SCTP_EV_DATA,
    SCTP_EV_DATA,
    SCTP_EV_SHUTDOWN_COMPLETE,
    SCTP_EV_DATA,
];

/// The event of a chunk type (`sctp_events`; every type IPVS does not name is DATA). A
/// table load, not a chain of branches for the verifier to walk.
#[inline(always)]
pub fn sctp_event(chunk_type: u8) -> u8 {
    if chunk_type < 16 {
        EVENT_OF[(chunk_type & 15) as usize]
    } else {
        SCTP_EV_DATA
    }
}

/// The first SCTP state's number in [`Conn::state`](crate::Conn::state): IPVS's
/// `IP_VS_SCTP_S_NONE`. Every SCTP state is this plus IPVS's number.
pub const CONN_S_SCTP: u8 = 32;
/// The number of SCTP states (`IP_VS_SCTP_S_LAST`).
pub const SCTP_STATES: u8 = 14;

/// IPVS's SCTP states, by IPVS's number (`IP_VS_SCTP_S_*`); add [`CONN_S_SCTP`] for lb's.
pub const SCTP_S_NONE: u8 = 0;
/// The client's first INIT, no INIT ACK yet (a short timeout for INITs nobody answers).
pub const SCTP_S_INIT1: u8 = 1;
/// A later INIT of the client.
pub const SCTP_S_INIT: u8 = 2;
/// The real server's INIT ACK passed (`nat`), waiting for the client's COOKIE ECHO.
pub const SCTP_S_COOKIE_SENT: u8 = 3;
/// The client's COOKIE ECHO passed, waiting for the real server's COOKIE ACK.
pub const SCTP_S_COOKIE_REPLIED: u8 = 4;
/// The real server sent an INIT (`nat`), waiting for the client's INIT ACK.
pub const SCTP_S_COOKIE_WAIT: u8 = 5;
/// The client's INIT ACK to the real server's INIT passed.
pub const SCTP_S_COOKIE: u8 = 6;
/// The real server's COOKIE ECHO passed (or, `dr` / `tun`, the client's INIT ACK).
pub const SCTP_S_COOKIE_ECHOED: u8 = 7;
pub const SCTP_S_ESTABLISHED: u8 = 8;
pub const SCTP_S_SHUTDOWN_SENT: u8 = 9;
pub const SCTP_S_SHUTDOWN_RECEIVED: u8 = 10;
pub const SCTP_S_SHUTDOWN_ACK_SENT: u8 = 11;
/// An INIT answered by an ABORT (a short timeout).
pub const SCTP_S_REJECTED: u8 = 12;
pub const SCTP_S_CLOSED: u8 = 13;

/// lb's state numbers of the SCTP states.
pub const CONN_S_SCTP_NONE: u8 = CONN_S_SCTP + SCTP_S_NONE;
pub const CONN_S_SCTP_ESTABLISHED: u8 = CONN_S_SCTP + SCTP_S_ESTABLISHED;
pub const CONN_S_SCTP_CLOSED: u8 = CONN_S_SCTP + SCTP_S_CLOSED;

/// IPVS's names of the SCTP states (`sctp_state_name_table`), as `ipvsadm -L -c` prints them.
pub const SCTP_STATE_NAMES: [&str; SCTP_STATES as usize] = [
    "NONE",
    "INIT1",
    "INIT",
    "C-SENT",
    "C-REPLIED",
    "C-WAIT",
    "COOKIE",
    "C-ECHOED",
    "ESTABLISHED",
    "S-SENT",
    "S-RECEIVED",
    "S-ACK-SENT",
    "REJECTED",
    "CLOSED",
];

/// IPVS's SCTP timeouts, seconds, by IPVS's state number (`sctp_timeouts`:
/// `IP_VS_SCTP_MAX_RTO` is 61 s). ipvsadm's `--set` has none of them; they are fixed.
pub const SCTP_TIMEOUTS_S: [u32; SCTP_STATES as usize] =
    [2, 4, 61, 61, 61, 61, 61, 61, 900, 61, 61, 61, 4, 61];

/// Whether lb's `state` is an SCTP one.
#[inline(always)]
pub fn is_sctp_state(state: u8) -> bool {
    state.wrapping_sub(CONN_S_SCTP) < SCTP_STATES
}

/// The row of IPVS's table for one event: the next state (IPVS's number) for each current
/// state, NONE first, as 4-bit fields of a word, so that the BPF program shifts a constant
/// and indexes no table in memory.
const fn row(next: [u8; SCTP_STATES as usize]) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < next.len() {
        w |= (next[i] as u64) << (4 * i);
        i += 1;
    }
    w
}

const NO_: u8 = SCTP_S_NONE;
const I1: u8 = SCTP_S_INIT1;
const IN: u8 = SCTP_S_INIT;
const CS: u8 = SCTP_S_COOKIE_SENT;
const CR: u8 = SCTP_S_COOKIE_REPLIED;
const CW: u8 = SCTP_S_COOKIE_WAIT;
const CO: u8 = SCTP_S_COOKIE;
const CE: u8 = SCTP_S_COOKIE_ECHOED;
const ES: u8 = SCTP_S_ESTABLISHED;
const SS: u8 = SCTP_S_SHUTDOWN_SENT;
const SR: u8 = SCTP_S_SHUTDOWN_RECEIVED;
const SA: u8 = SCTP_S_SHUTDOWN_ACK_SENT;
const RJ: u8 = SCTP_S_REJECTED;
const CL: u8 = SCTP_S_CLOSED;

// IPVS's `sctp_states`, one table per direction, one row per event (data, init, init_ack,
// cookie_echo, cookie_ack, shutdown, shutdown_ack, shutdown_complete, error, abort); the
// columns NONE, INIT1, INIT, C-SENT, C-REPLIED, C-WAIT, COOKIE, C-ECHOED, ESTABLISHED,
// S-SENT, S-RECEIVED, S-ACK-SENT, REJECTED, CLOSED.
const INPUT: [u64; SCTP_EVENTS as usize] = [
    row([ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN]),
    row([CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL]),
    row([SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL]),
    row([CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL]),
    row([CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL]),
    row([CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL]),
    row([CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL]),
];
const OUTPUT: [u64; SCTP_EVENTS as usize] = [
    row([ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW]),
    row([CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL]),
    row([ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL]),
    row([SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL]),
    row([SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL]),
    row([CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL]),
];
const INPUT_ONLY: [u64; SCTP_EVENTS as usize] = [
    row([ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN]),
    row([CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL]),
    row([SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL]),
    row([CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL]),
    row([CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL]),
    row([CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL]),
    row([CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL]),
];

/// A direction's table padded to 16 rows, so that a masked index reaches a row whatever the
/// event: the padding rows leave every state as it is.
const KEEP: u64 = row([NO_, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL]);
const fn padded(t: [u64; SCTP_EVENTS as usize]) -> [u64; 16] {
    let mut out = [KEEP; 16];
    let mut i = 0;
    while i < t.len() {
        out[i] = t[i];
        i += 1;
    }
    out
}
const IN_ROWS: [u64; 16] = padded(INPUT);
const OUT_ROWS: [u64; 16] = padded(OUTPUT);
const ONLY_ROWS: [u64; 16] = padded(INPUT_ONLY);

/// The state (lb's number) IPVS moves an SCTP association in lb's `state` to for a packet
/// whose event is `event` going in direction `dir` (`TCP_DIR_*`). A state that is no SCTP
/// state stays as it is. The direction is a constant where the BPF program calls this; the
/// event picks its row by a load, not by branches the verifier would follow one by one.
#[inline(always)]
pub fn sctp_next_state(dir: u8, event: u8, state: u8) -> u8 {
    if !is_sctp_state(state) {
        return state;
    }
    let rows = match dir {
        TCP_DIR_OUTPUT => &OUT_ROWS,
        TCP_DIR_INPUT_ONLY => &ONLY_ROWS,
        _ => &IN_ROWS,
    };
    let row = rows[(event & 15) as usize];
    CONN_S_SCTP + ((row >> (4 * ((state - CONN_S_SCTP) & 15) as u32)) & 0xf) as u8
}

/// CRC32c's polynomial (Castagnoli), bit-reflected as SCTP computes it.
pub const CRC32C_POLY: u32 = 0x82f6_3b78;

/// a(x) * b(x) modulo the polynomial, in the bit-reflected form (bit 31 is x^0).
const fn mul_mod(a: u32, mut b: u32) -> u32 {
    let mut m: u32 = 1 << 31;
    let mut p = 0u32;
    while m != 0 {
        if a & m != 0 {
            p ^= b;
        }
        b = if b & 1 != 0 {
            (b >> 1) ^ CRC32C_POLY
        } else {
            b >> 1
        };
        m >>= 1;
    }
    p
}

/// Bits of a length [`crc32c_shift`] handles: any IP datagram's.
pub const CRC_SHIFT_BITS: usize = 16;

/// x^(8 * 2^i) modulo the polynomial for i < [`CRC_SHIFT_BITS`]: advancing a CRC over 2^i
/// zero bytes multiplies it by this.
const fn byte_powers() -> [u32; CRC_SHIFT_BITS] {
    // x^8 (bit-reflected: x^k is bit 31 - k).
    let mut p: u32 = 1 << (31 - 8);
    let mut out = [0u32; CRC_SHIFT_BITS];
    let mut i = 0;
    while i < CRC_SHIFT_BITS {
        out[i] = p;
        p = mul_mod(p, p);
        i += 1;
    }
    out
}

/// `CRC_SHIFT[i][j][b]`: the multiplication by x^(8 * 2^i) of the byte `b` in byte `j` of a
/// CRC register. Multiplying by a constant is linear, so a register's product is the XOR of
/// its four bytes' (64 KiB, built at compile time).
pub type CrcShiftTable = [[[u32; 256]; 4]; CRC_SHIFT_BITS];

/// Builds [`CrcShiftTable`].
pub const fn crc_shift_table() -> CrcShiftTable {
    let powers = byte_powers();
    let mut t = [[[0u32; 256]; 4]; CRC_SHIFT_BITS];
    let mut i = 0;
    while i < CRC_SHIFT_BITS {
        let mut j = 0;
        while j < 4 {
            let mut b = 0;
            while b < 256 {
                t[i][j][b] = mul_mod(powers[i], (b as u32) << (8 * j));
                b += 1;
            }
            j += 1;
        }
        i += 1;
    }
    t
}

/// The CRC register `crc` advanced over `len` zero bytes (`len` < 2^16): one table step per
/// bit of `len`, each four lookups, taken or not by a mask (no branch for the verifier to
/// follow both ways). `table` is [`crc_shift_table`]'s.
#[inline(always)]
pub fn crc32c_shift(table: &CrcShiftTable, mut crc: u32, len: u32) -> u32 {
    let mut i = 0;
    while i < CRC_SHIFT_BITS {
        crc = crc32c_shift_step(table, crc, len, i);
        i += 1;
    }
    crc
}

/// Step `i` (< [`CRC_SHIFT_BITS`]) of [`crc32c_shift`]: the register multiplied by
/// x^(8 * 2^i) if bit `i` of `len` is set.
#[inline(always)]
pub fn crc32c_shift_step(table: &CrcShiftTable, crc: u32, len: u32, i: usize) -> u32 {
    let t = &table[i & (CRC_SHIFT_BITS - 1)];
    let moved = t[0][(crc & 0xff) as usize]
        ^ t[1][((crc >> 8) & 0xff) as usize]
        ^ t[2][((crc >> 16) & 0xff) as usize]
        ^ t[3][(crc >> 24) as usize];
    let take = 0u32.wrapping_sub((len >> (i & 31)) & 1);
    (moved & take) | (crc & !take)
}

/// The new CRC32c of an SCTP packet of `len` bytes (common header included) whose first
/// four bytes (the ports) changed from `old_ports` to `new_ports` (each as it lies in memory:
/// little-endian words of the wire bytes), given its old CRC32c `crc` (as the checksum field
/// holds it, read as a little-endian word). CRC32c is linear: two messages of one length
/// differ in CRC by the CRC, without initial value or final XOR, of their XOR, which here is
/// four bytes followed by `len - 4` zero bytes: the four bytes advanced over `len` bytes.
/// No byte of the payload is read.
#[inline(always)]
pub fn crc32c_ports_update(
    table: &CrcShiftTable,
    crc: u32,
    old_ports: u32,
    new_ports: u32,
    len: u32,
) -> u32 {
    crc ^ crc32c_shift(table, old_ports ^ new_ports, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC32c, bit by bit: the definition, independent of the tables above.
    fn crc32c(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82f6_3b78
                } else {
                    c >> 1
                };
            }
        }
        !c
    }

    #[test]
    fn known_crc32c() {
        // RFC 3720 B.4 / the usual check value.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn a_port_change_updates_the_crc_as_a_full_computation_does() {
        let table = crc_shift_table();
        for len in [12usize, 16, 17, 100, 1500, 4096, 9000, 65535] {
            let mut p: std::vec::Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            p[8..12].fill(0);
            let old = crc32c(&p);
            let old_ports = u32::from_le_bytes(p[0..4].try_into().unwrap());
            p[2] = 0x1f;
            p[3] = 0x90;
            p[0] = 0xab;
            let new_ports = u32::from_le_bytes(p[0..4].try_into().unwrap());
            let want = crc32c(&p);
            assert_eq!(
                crc32c_ports_update(&table, old, old_ports, new_ports, len as u32),
                want,
                "length {len}"
            );
        }
    }

    #[test]
    fn states_read_back_as_ipvs_s_table() {
        let s = |n: u8| CONN_S_SCTP + n;
        assert_eq!(
            sctp_next_state(TCP_DIR_INPUT, SCTP_EV_INIT, s(SCTP_S_NONE)),
            s(SCTP_S_INIT1)
        );
        assert_eq!(
            sctp_next_state(TCP_DIR_OUTPUT, SCTP_EV_INIT_ACK, s(SCTP_S_INIT1)),
            s(SCTP_S_COOKIE_SENT)
        );
        assert_eq!(
            sctp_next_state(TCP_DIR_INPUT, SCTP_EV_COOKIE_ECHO, s(SCTP_S_COOKIE_SENT)),
            s(SCTP_S_COOKIE_REPLIED)
        );
        assert_eq!(
            sctp_next_state(TCP_DIR_OUTPUT, SCTP_EV_COOKIE_ACK, s(SCTP_S_COOKIE_REPLIED)),
            s(SCTP_S_ESTABLISHED)
        );
        assert_eq!(
            sctp_next_state(TCP_DIR_INPUT_ONLY, SCTP_EV_INIT_ACK, s(SCTP_S_CLOSED)),
            s(SCTP_S_CLOSED)
        );
        assert_eq!(
            sctp_next_state(TCP_DIR_OUTPUT, SCTP_EV_ABORT, s(SCTP_S_INIT1)),
            s(SCTP_S_REJECTED)
        );
        assert_eq!(sctp_next_state(TCP_DIR_INPUT, SCTP_EV_INIT, 3), 3);
        assert_eq!(sctp_event(SCTP_CID_COOKIE_ECHO), SCTP_EV_COOKIE_ECHO);
        assert_eq!(sctp_event(3), SCTP_EV_DATA);
        assert_eq!(sctp_event(200), SCTP_EV_DATA);
    }
}
