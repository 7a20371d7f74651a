//! The address filter (`lb_addr_flt`): which packets may concern a VIP at all.

#[cfg(doc)]
use crate::{hash, map_name};

/// The address filter ([`map_name::ADDR_FILTER`]): two bitmaps of `1 << ADDR_FILTER_BITS_LOG2`
/// bits, as `u64` words: the first has the bit ([`hash::addr_filter_bit`]) of every VIP
/// address set, the second that of every `nat` real server's address. `lb` looks a packet up
/// in the connection table and the services only when its destination's bit is set in the
/// first or its source's in the second: the rest of the host's traffic costs two array reads.
/// Written by lbd (bits of new addresses before their services, stale bits cleared after);
/// read by `lb` per packet.
pub const ADDR_FILTER_BITS_LOG2: u32 = 16;
/// Words of one bitmap of the address filter.
pub const ADDR_FILTER_WORDS: u32 = (1 << ADDR_FILTER_BITS_LOG2) / 64;
