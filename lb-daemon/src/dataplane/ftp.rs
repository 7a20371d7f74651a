//! The maps of FTP through a `nat` VIP (`lb_common::ftp`): the data connections lbd's FTP
//! helper expects, and the interface it reads.

use std::net::IpAddr;

use lb_common::{Expect, ExpectKey, PROTO_TCP, map_name};
use lb_model::addr::addr_words;

use super::{Dataplane, DataplaneError, Result, conns::monotonic_ns, map_err};

/// A data connection the FTP helper announces to `lb`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataExpect {
    /// The client's next connection to `vip`:`port` goes to real server `real` (a `227` or
    /// `229` reply announced it).
    Passive {
        client: IpAddr,
        vip: IpAddr,
        port: u16,
        real: u32,
    },
    /// Real server `real_id` (at `real`) will connect to `client`:`port` (the client's
    /// `PORT` or `EPRT` named it): that connection leaves from the VIP.
    Active {
        client: IpAddr,
        real: IpAddr,
        port: u16,
        real_id: u32,
    },
}

impl DataExpect {
    fn entry(&self) -> (ExpectKey, Expect) {
        let (client, vip, port, real) = match *self {
            DataExpect::Passive {
                client,
                vip,
                port,
                real,
            } => (client, vip, port, real),
            // Keyed by the real server's address where a passive one has the VIP's: `lb`
            // looks a new flow up both ways.
            DataExpect::Active {
                client,
                real,
                port,
                real_id,
            } => (client, real, port, real_id),
        };
        let (client, family) = addr_words(client);
        let (vip, _) = addr_words(vip);
        (
            ExpectKey {
                client,
                vip,
                port: port.to_be(),
                proto: PROTO_TCP,
                family,
            },
            Expect {
                real,
                _pad: 0,
                created_ns: monotonic_ns(),
            },
        )
    }
}

impl Dataplane {
    /// Announces a data connection to `lb` (replacing an older announcement of the same
    /// client and port).
    pub fn expect_data(&mut self, e: &DataExpect) -> Result<()> {
        let (k, v) = e.entry();
        self.ftp_expect
            .insert(k, v, 0)
            .map_err(|source| map_err(map_name::FTP_EXPECT, source))
    }

    /// The announced data connections not yet taken (for tests).
    pub fn expected_data(&self) -> Vec<(ExpectKey, Expect)> {
        self.ftp_expect.iter().filter_map(|r| r.ok()).collect()
    }

    /// Makes interface `ifindex` the one `lb` hands FTP control packets to.
    pub fn set_ftp_helper(&mut self, ifindex: u32) -> Result<()> {
        self.ftp_helper
            .set(0, ifindex, None, 0)
            .map_err(|source| DataplaneError::XdpMap {
                name: map_name::FTP_HELPER,
                source,
            })
    }
}
