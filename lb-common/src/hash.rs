//! The flow hash: one function, compiled into both the XDP program (to pick a Maglev slot for
//! a new flow) and user space (tests and reference models that must predict that choice).
//!
//! MurmurHash3's 32-bit body and finaliser over the key's words as they lie in memory (the
//! fields are already in network byte order), so both sides hash identical bytes identically.
//! For whole 32-bit words this is MurmurHash3 x86_32 exactly (the tests check its published
//! vectors); a shorter tail ([`bytes_hash`]) is mixed like a whole word.

use crate::FlowKey;

/// Seed of [`flow_hash`] for scheduling; user space uses the same one to predict choices.
pub const FLOW_HASH_SEED: u32 = 0x4c42_5644;

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

#[inline(always)]
fn mix(h: u32, k: u32) -> u32 {
    let k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    (h ^ k)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

#[inline(always)]
pub fn fmix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// Hash of a connection's 5-tuple (the tunnels' source-port and flow-label entropy).
#[inline(always)]
pub fn flow_hash(k: &FlowKey, seed: u32) -> u32 {
    let mut h = seed;
    h = mix(h, k.src[0]);
    h = mix(h, k.src[1]);
    h = mix(h, k.src[2]);
    h = mix(h, k.src[3]);
    h = mix(h, k.dst[0]);
    h = mix(h, k.dst[1]);
    h = mix(h, k.dst[2]);
    h = mix(h, k.dst[3]);
    h = mix(h, (k.sport as u32) | ((k.dport as u32) << 16));
    h = mix(h, (k.proto as u32) | ((k.family as u32) << 8));
    fmix(h ^ 40)
}

/// Hash of an address alone (`sh` hashes the client's, `dh` the destination's).
#[inline(always)]
pub fn addr_hash(a: &[u32; 4], seed: u32) -> u32 {
    let mut h = seed;
    h = mix(h, a[0]);
    h = mix(h, a[1]);
    h = mix(h, a[2]);
    h = mix(h, a[3]);
    fmix(h ^ 16)
}

/// Hash of an address and a port (network byte order, as it lies in the packet): `sh` and
/// `mh` with their `-port` flag hash the client's address and source port, as IPVS does.
#[inline(always)]
pub fn addr_port_hash(a: &[u32; 4], port: u16, seed: u32) -> u32 {
    let mut h = seed;
    h = mix(h, a[0]);
    h = mix(h, a[1]);
    h = mix(h, a[2]);
    h = mix(h, a[3]);
    h = mix(h, port as u32);
    fmix(h ^ 18)
}

/// The hash a hash-based scheduler picks its table slot by (the XDP program and the reference
/// models share it): `dh` hashes the destination address; `sh` and `mh` the client address,
/// with its source port when `port` (their `-port` flag) is set, as IPVS does.
#[inline(always)]
pub fn sched_hash(k: &FlowKey, sched: u8, port: bool) -> u32 {
    if sched == crate::SCHED_DH {
        addr_hash(&k.dst, FLOW_HASH_SEED)
    } else if port {
        addr_port_hash(&k.src, k.sport, FLOW_HASH_SEED)
    } else {
        addr_hash(&k.src, FLOW_HASH_SEED)
    }
}

/// Hash of an arbitrary byte string (user space: Maglev permutations of real servers).
pub fn bytes_hash(bytes: &[u8], seed: u32) -> u32 {
    let mut h = seed;
    let mut chunks = bytes.chunks_exact(4);
    for c in &mut chunks {
        h = mix(h, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 4];
        last[..rest.len()].copy_from_slice(rest);
        h = mix(h, u32::from_le_bytes(last));
    }
    fmix(h ^ bytes.len() as u32)
}

/// Bit of an address in the address filter ([`crate::map_name::ADDR_FILTER`]): a
/// multiplicative hash of its words folded together, `ADDR_FILTER_BITS` bits wide.
#[inline(always)]
pub fn addr_filter_bit(a: &[u32; 4]) -> u32 {
    (a[0] ^ a[1] ^ a[2] ^ a[3]).wrapping_mul(0x9e37_79b1) >> (32 - crate::ADDR_FILTER_BITS_LOG2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MurmurHash3 x86_32's published test vectors (for inputs of whole 32-bit words, where
    /// these functions are MurmurHash3 exactly; a shorter tail is mixed like a whole word).
    #[test]
    fn murmur3_known_answers() {
        for (bytes, seed, want) in [
            (&b""[..], 0, 0),
            (&b""[..], 1, 0x514e_28b7),
            (&b""[..], 0xffff_ffff, 0x81f1_6f39),
            (&[0xff, 0xff, 0xff, 0xff][..], 0, 0x7629_3b50),
            (&[0x21, 0x43, 0x65, 0x87][..], 0, 0xf55b_516b),
            (&[0x21, 0x43, 0x65, 0x87][..], 0x5082_edee, 0x2362_f9de),
            (&[0, 0, 0, 0][..], 0, 0x2362_f9de),
            (&b"aaaa"[..], 0x9747_b28c, 0x5a97_808a),
            (&b"abcd"[..], 0x9747_b28c, 0xf047_8627),
        ] {
            assert_eq!(bytes_hash(bytes, seed), want, "{bytes:?} seed {seed:#x}");
        }
    }

    /// The address and flow hashes are the byte hash of the words as they lie in memory.
    #[test]
    fn word_hashes_are_the_byte_hash_of_their_memory() {
        let a = [0x0102_0304u32, 0x0506_0708, 0x090a_0b0c, 0x0d0e_0f10];
        let mut mem = [0u8; 16];
        for (i, w) in a.iter().enumerate() {
            mem[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
        }
        assert_eq!(addr_hash(&a, 7), bytes_hash(&mem, 7));
        let k = FlowKey {
            src: a,
            dst: [1, 2, 3, 4],
            sport: 0x1234,
            dport: 0x5678,
            proto: 6,
            family: 6,
            _pad: [0; 2],
        };
        // SAFETY: FlowKey is repr(C) with explicit padding, 40 bytes, no invalid patterns.
        let bytes: [u8; 40] = unsafe { core::mem::transmute(k) };
        assert_eq!(flow_hash(&k, 9), bytes_hash(&bytes, 9));
    }
}
