//! FTP through a `nat` VIP (IPVS's `ip_vs_ftp`): the data connection a real server announced
//! in its reply to `PASV` / `EPSV` (the client's next connection to the VIP on that port) goes
//! to that real server; and the slot of the program lbd's FTP helper reads the control
//! connections' packets from.

#[cfg(doc)]
use crate::map_name;

/// A data connection the FTP helper expects (key of [`map_name::FTP_EXPECT`]): from the
/// client's address (any port) to the VIP's `port`. IPVS's `IP_VS_CONN_F_NO_CPORT`
/// connection.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ExpectKey {
    /// The client, network byte order. IPv4 uses `[0]`.
    pub client: [u32; 4],
    /// The VIP, network byte order. IPv4 uses `[0]`.
    pub vip: [u32; 4],
    /// The VIP's port the client will connect to, network byte order.
    pub port: u16,
    /// IP protocol number (TCP).
    pub proto: u8,
    /// `FAMILY_V4` or `FAMILY_V6`.
    pub family: u8,
}
const _: () = assert!(core::mem::size_of::<ExpectKey>() == 36);

/// Where an expected data connection goes (value of [`map_name::FTP_EXPECT`]): written by
/// lbd's FTP helper when a real server's reply announces a passive port; read and removed by
/// `lb` when the client's connection arrives. Entries older than [`FTP_EXPECT_TIMEOUT_NS`]
/// are ignored; the LRU map drops the oldest when full.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// The real server (id) of the control connection.
    pub real: u32,
    pub _pad: u32,
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) when lbd wrote it.
    pub created_ns: u64,
}
const _: () = assert!(core::mem::size_of::<Expect>() == 16);

/// How long an expected data connection waits for the client: IPVS's template timeout for
/// the data connection of `ip_vs_ftp` (a minute).
pub const FTP_EXPECT_TIMEOUT_NS: u64 = 60_000_000_000;
/// Capacity of [`map_name::FTP_EXPECT`].
pub const FTP_EXPECT_SIZE: u32 = 4096;
