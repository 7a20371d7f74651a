//! Internet checksums (RFC 1071) and their incremental update (RFC 1624). The one's-complement
//! sum does not depend on byte order as long as every word is taken the same way, so the
//! incremental helpers work on 16-bit words exactly as they lie in the packet.

/// Folds a 32-bit one's-complement accumulator to 16 bits: the one fold every checksum here
/// (IPv4 header check and build, ICMP errors, incremental updates) goes through.
#[inline(always)]
pub fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// Checksum of an IPv4 header given as ten host-order 16-bit words (checksum word zero).
#[inline(always)]
pub fn ipv4_header(words: &[u16; 10]) -> u16 {
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < 10 {
        sum += words[i] as u32;
        i += 1;
    }
    !fold(sum)
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word changing from `old` to `new`.
#[inline(always)]
pub fn replace16(check: u16, old: u16, new: u16) -> u16 {
    !fold((!check) as u32 + (!old) as u32 + new as u32)
}

/// The same for a 32-bit field (an IPv4 address) as it lies in memory.
#[inline(always)]
pub fn replace32(check: u16, old: u32, new: u32) -> u16 {
    let sum = (!check) as u32
        + (!(old as u16)) as u32
        + (!((old >> 16) as u16)) as u32
        + (new as u16) as u32
        + ((new >> 16) as u16) as u32;
    !fold(sum)
}

/// Accumulates, in one's complement, the change of a 32-bit field from `old` to `new` (as it
/// lies in memory) onto the difference `acc`: `acc + ~old + new`, folded.
#[inline(always)]
pub fn diff32(acc: u16, old: u32, new: u32) -> u16 {
    fold(
        acc as u32
            + (!(old as u16)) as u32
            + (!((old >> 16) as u16)) as u32
            + (new as u16) as u32
            + ((new >> 16) as u16) as u32,
    )
}

/// Applies a difference from [`diff32`] to a checksum: `~(~check + diff)` (RFC 1624 eqn. 3).
#[inline(always)]
pub fn adjust(check: u16, diff: u16) -> u16 {
    !fold((!check) as u32 + diff as u32)
}

/// Sums two one's-complement differences.
#[inline(always)]
pub fn add(a: u16, b: u16) -> u16 {
    fold(a as u32 + b as u32)
}
