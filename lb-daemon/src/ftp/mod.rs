//! FTP through a `nat` VIP, as IPVS's `ip_vs_ftp` (a service on top: it reads and writes the
//! maps only through the data plane's methods). `lb` hands every packet of an FTP control
//! connection (to or from a `nat` real server's control port), rewritten for its next hop as
//! usual, to the helper's interface ([`link`]) instead of sending it; the helper
//! ([`Helper::handle`]) reads it, and sends it on out of the interface its next hop is on:
//!
//! - a real server's `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` naming its own address
//!   gets the VIP's instead ([`words`]); when that changes the reply's length, the server's
//!   sequence numbers are shifted for the rest of the connection and the client's
//!   acknowledgements shifted back ([`seq`]);
//! - a `227` or `229 (|||port|)` reply tells `lb` that the client's next connection to that
//!   port of the VIP goes to this real server (`Dataplane::expect_data`), as IPVS's
//!   connection without a client port;
//! - a client's `PORT` or `EPRT` naming its own address tells `lb` that this real server's
//!   next connection to that port of the client is the data connection: it leaves from the
//!   VIP, and the client's packets of it go back to the real server.
//!
//! The data connections themselves never leave XDP. The real servers of an FTP service keep
//! each connection's ports (their entries have port 0), so a data connection reaches the
//! real server on the port it announced.

pub mod frame;
pub mod link;
pub mod seq;
pub mod words;

use std::{
    collections::HashMap,
    net::IpAddr,
    time::{Duration, Instant},
};

use lb_common::{CONN_F_REPLY, FlowKey, PROTO_TCP};
use lb_model::addr::{addr_of, addr_words};

use crate::dataplane::{DataExpect, Dataplane};
use frame::TcpFrame;
use seq::SeqAdjust;
use words::Announce;

/// A control connection stays known this long after its last packet (IPVS's established TCP
/// timeout).
const IDLE: Duration = Duration::from_secs(900);

/// One control connection: its client's address and port and the VIP's control port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ControlId {
    client: IpAddr,
    client_port: u16,
    port: u16,
}

#[derive(Debug)]
struct Control {
    seq: SeqAdjust,
    last: Instant,
}

/// Which way a control packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// Client -> real server (the frame's destination is the real server's).
    FromClient,
    /// Real server -> client (the frame's source is already the VIP).
    FromReal,
}

/// What the helper did with a frame, for its counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Handled {
    /// A `227` rewritten to the VIP.
    pub rewritten: bool,
    /// A data connection announced to `lb`.
    pub expected: bool,
    /// Sequence or acknowledgement number shifted.
    pub adjusted: bool,
}

/// The helper's state: the control connections it saw.
#[derive(Debug, Default)]
pub struct Helper {
    controls: HashMap<ControlId, Control>,
    /// Counters: control packets, 227 rewritten, data connections announced, frames that
    /// were not TCP of a known control connection (sent on unchanged).
    pub packets: u64,
    pub rewrites: u64,
    pub expectations: u64,
    pub unknown: u64,
}

/// The flow in the connection-table key form.
fn flow(src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> FlowKey {
    let (s, family) = addr_words(src);
    let (d, _) = addr_words(dst);
    FlowKey {
        src: s,
        dst: d,
        sport: sport.to_be(),
        dport: dport.to_be(),
        proto: PROTO_TCP,
        family,
        _pad: [0; 2],
    }
}

impl Helper {
    /// Handles one control frame in place; the frame is sent on whatever this returns.
    pub fn handle(&mut self, f: &mut Vec<u8>, dp: &mut Dataplane) -> Handled {
        self.packets += 1;
        let Ok(mut t) = TcpFrame::parse(f) else {
            self.unknown += 1;
            return Handled::default();
        };
        // Which way, and the connection's real server, from the entries `lb` keeps.
        let back = flow(t.dst, t.src, t.dport, t.sport);
        let (way, real_id) = match dp.conn(&back) {
            Some(c) if c.flags & CONN_F_REPLY != 0 => (Way::FromClient, c.real),
            Some(c) => (Way::FromReal, c.real),
            None => {
                self.unknown += 1;
                return Handled::default();
            }
        };
        let Ok(real) = dp.real(real_id) else {
            self.unknown += 1;
            return Handled::default();
        };
        let real_addr = addr_of(&real.addr, real.family);
        let vip = addr_of(&real.vaddr, real.family);
        let id = match way {
            Way::FromClient => ControlId {
                client: t.src,
                client_port: t.sport,
                port: t.dport,
            },
            Way::FromReal => ControlId {
                client: t.dst,
                client_port: t.dport,
                port: t.sport,
            },
        };
        let now = Instant::now();
        if self.controls.len() > 65_536 {
            self.controls.retain(|_, c| now - c.last < IDLE);
        }
        let c = self.controls.entry(id).or_insert(Control {
            seq: SeqAdjust::default(),
            last: now,
        });
        c.last = now;
        let mut done = Handled::default();
        let payload = t.payload();
        match way {
            Way::FromReal => {
                let seq = t.seq(f);
                if !c.seq.is_identity() {
                    t.set_seq(f, c.seq.seq_out(seq));
                    done.adjusted = true;
                }
                let announced = match words::reply(&f[payload.clone()]) {
                    Some(Announce::Passive { addr, port, span }) => {
                        if let (IpAddr::V4(vip4), true) = (vip, IpAddr::V4(addr) == real_addr) {
                            let text = words::passive_text(vip4, port);
                            let range = payload.start + span.start..payload.start + span.end;
                            let diff = text.len() as i32 - range.len() as i32;
                            t.splice(f, range, text.as_bytes());
                            if diff != 0 {
                                c.seq.changed(seq, diff);
                            }
                            done.rewritten = true;
                            self.rewrites += 1;
                        }
                        Some(port)
                    }
                    Some(Announce::ExtendedPassive { port }) => Some(port),
                    _ => None,
                };
                if let Some(port) = announced {
                    done.expected = expect(
                        dp,
                        DataExpect::Passive {
                            client: id.client,
                            vip,
                            port,
                            real: real_id,
                        },
                    );
                }
            }
            Way::FromClient => {
                if t.has_ack(f) && !c.seq.is_identity() {
                    let ack = t.ack(f);
                    t.set_ack(f, c.seq.ack_in(ack));
                    done.adjusted = true;
                }
                if let Some(Announce::Active { addr, port }) = words::command(&f[payload])
                    && addr == id.client
                {
                    done.expected = expect(
                        dp,
                        DataExpect::Active {
                            client: id.client,
                            real: real_addr,
                            port,
                            real_id,
                        },
                    );
                }
            }
        }
        if done.expected {
            self.expectations += 1;
        }
        t.finish(f);
        done
    }
}

fn expect(dp: &mut Dataplane, e: DataExpect) -> bool {
    match dp.expect_data(&e) {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(?e, "ftp: the data connection could not be announced: {err}");
            false
        }
    }
}
