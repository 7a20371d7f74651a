//! IPVS's TCP connection states (net/netfilter/ipvs/ip_vs_proto_tcp.c): the state numbers
//! [`Conn::state`](crate::Conn::state) holds (IPVS's own, so that they go on the sync wire as
//! they are), the state table a packet moves a connection through, which states count as
//! active, and the default timeouts. `lb` moves the states; lbd lists, expires and syncs them.
//!
//! IPVS keeps three tables of transitions, chosen by where the packet goes (`set_tcp_state`):
//! - [`TCP_DIR_INPUT`]: a client's packet of a connection whose replies pass the director
//!   (`nat`);
//! - [`TCP_DIR_OUTPUT`]: a real server's reply of such a connection;
//! - [`TCP_DIR_INPUT_ONLY`]: a client's packet of a connection whose replies never pass the
//!   director (`dr`, `tun`: IPVS's `IP_VS_CONN_F_NOOUTPUT`, lb's
//!   [`CONN_F_NOOUTPUT`](crate::CONN_F_NOOUTPUT)).
//!
//! A packet picks its row by its flags, RST first, then SYN, FIN, ACK (`tcp_state_idx`); a
//! packet with none of them moves the connection to CLOSE. IPVS's other table set,
//! `tcp_states_dos`, is used only with its `secure_tcp` defence, which lb does not have.

/// IPVS's `IP_VS_TCP_S_NONE`: no packet seen yet (a persistence template's state, too).
pub const CONN_S_NONE: u8 = 0;
/// `IP_VS_TCP_S_ESTABLISHED`.
pub const CONN_S_ESTABLISHED: u8 = 1;
/// `IP_VS_TCP_S_SYN_SENT`: the real server sent a SYN first (`nat`).
pub const CONN_S_SYN_SENT: u8 = 2;
/// `IP_VS_TCP_S_SYN_RECV`: the client sent a SYN.
pub const CONN_S_SYN_RECV: u8 = 3;
/// `IP_VS_TCP_S_FIN_WAIT`.
pub const CONN_S_FIN_WAIT: u8 = 4;
/// `IP_VS_TCP_S_TIME_WAIT`.
pub const CONN_S_TIME_WAIT: u8 = 5;
/// `IP_VS_TCP_S_CLOSE`: reset (or a packet without SYN, FIN, ACK or RST).
pub const CONN_S_CLOSE: u8 = 6;
/// `IP_VS_TCP_S_CLOSE_WAIT`.
pub const CONN_S_CLOSE_WAIT: u8 = 7;
/// `IP_VS_TCP_S_LAST_ACK`.
pub const CONN_S_LAST_ACK: u8 = 8;
/// `IP_VS_TCP_S_LISTEN`.
pub const CONN_S_LISTEN: u8 = 9;
/// `IP_VS_TCP_S_SYNACK`.
pub const CONN_S_SYNACK: u8 = 10;
/// The number of TCP states (`IP_VS_TCP_S_LAST`).
pub const TCP_STATES: u8 = 11;
/// A UDP connection: IPVS's one UDP state (`IP_VS_UDP_S_NORMAL`, 0 on the sync wire), kept
/// apart from the TCP numbers so that a state alone says how to count and time it.
pub const CONN_S_UDP: u8 = 16;

/// IPVS's names of the TCP states, by number (`tcp_state_name_table`).
pub const TCP_STATE_NAMES: [&str; TCP_STATES as usize] = [
    "NONE",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "SYNACK",
];

/// IPVS's default timeouts of the TCP states, seconds (`tcp_timeouts`). ipvsadm's `--set tcp
/// tcpfin udp` changes ESTABLISHED's, FIN_WAIT's and UDP's; the others are fixed.
pub const TCP_TIMEOUTS_S: [u32; TCP_STATES as usize] =
    [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];

/// The state's name as IPVS prints it (`UDP` for UDP, SCTP's from
/// [`SCTP_STATE_NAMES`](crate::SCTP_STATE_NAMES); `?` for a number IPVS has no name for).
pub fn state_name(state: u8) -> &'static str {
    if state == CONN_S_UDP {
        "UDP"
    } else if crate::is_sctp_state(state) {
        crate::SCTP_STATE_NAMES[(state - crate::CONN_S_SCTP) as usize]
    } else {
        TCP_STATE_NAMES.get(state as usize).copied().unwrap_or("?")
    }
}

/// Which table a packet moves its connection by (see the module's doc).
pub const TCP_DIR_INPUT: u8 = 0;
pub const TCP_DIR_OUTPUT: u8 = 1;
pub const TCP_DIR_INPUT_ONLY: u8 = 2;

/// TCP flags as they are on the wire (byte 13 of the header).
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// One row of IPVS's table (the next state for each current state, NONE first), as 4-bit
/// fields of a word: constants the BPF program shifts, with no table in memory to index.
const fn row(next: [u8; TCP_STATES as usize]) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < next.len() {
        w |= (next[i] as u64) << (4 * i);
        i += 1;
    }
    w
}

const ES: u8 = CONN_S_ESTABLISHED;
const SS: u8 = CONN_S_SYN_SENT;
const SR: u8 = CONN_S_SYN_RECV;
const FW: u8 = CONN_S_FIN_WAIT;
const TW: u8 = CONN_S_TIME_WAIT;
const CL: u8 = CONN_S_CLOSE;
const CW: u8 = CONN_S_CLOSE_WAIT;
const LA: u8 = CONN_S_LAST_ACK;
const LI: u8 = CONN_S_LISTEN;
const SA: u8 = CONN_S_SYNACK;

// IPVS's `tcp_states`, row by row; columns NONE, ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT,
// TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, SYNACK.
const IN_SYN: u64 = row([SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR]);
const IN_FIN: u64 = row([CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW]);
const IN_ACK: u64 = row([ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES]);
const IN_RST: u64 = row([CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR]);
const OUT_SYN: u64 = row([SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR]);
const OUT_FIN: u64 = row([TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW]);
const OUT_ACK: u64 = row([ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES]);
const OUT_RST: u64 = row([CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL]);
const ONLY_SYN: u64 = row([SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR]);
const ONLY_FIN: u64 = row([CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW]);
const ONLY_ACK: u64 = row([ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES]);
const ONLY_RST: u64 = row([CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL]);

/// The state IPVS moves a TCP connection in `state` to for a packet with `flags` going in
/// direction `dir` (`TCP_DIR_*`). A state IPVS has no number for stays as it is.
#[inline(always)]
pub fn tcp_next_state(dir: u8, flags: u8, state: u8) -> u8 {
    if state >= TCP_STATES {
        return state;
    }
    let row = if flags & RST != 0 {
        match dir {
            TCP_DIR_OUTPUT => OUT_RST,
            TCP_DIR_INPUT_ONLY => ONLY_RST,
            _ => IN_RST,
        }
    } else if flags & SYN != 0 {
        match dir {
            TCP_DIR_OUTPUT => OUT_SYN,
            TCP_DIR_INPUT_ONLY => ONLY_SYN,
            _ => IN_SYN,
        }
    } else if flags & FIN != 0 {
        match dir {
            TCP_DIR_OUTPUT => OUT_FIN,
            TCP_DIR_INPUT_ONLY => ONLY_FIN,
            _ => IN_FIN,
        }
    } else if flags & ACK != 0 {
        match dir {
            TCP_DIR_OUTPUT => OUT_ACK,
            TCP_DIR_INPUT_ONLY => ONLY_ACK,
            _ => IN_ACK,
        }
    } else {
        // `tcp_state_idx` < 0: IPVS's `set_tcp_state` falls back to CLOSE.
        return CONN_S_CLOSE;
    };
    ((row >> (4 * state as u32)) & 0xf) as u8
}

/// Whether a real server's plain ACK (no SYN, FIN or RST) moves a connection in `state`
/// (IPVS's output table: out of NONE, SYN_RECV, LISTEN and SYNACK only).
#[inline(always)]
pub fn reply_ack_moves(state: u8) -> bool {
    tcp_next_state(TCP_DIR_OUTPUT, ACK, state) != state
}

/// The states IPVS counts in a real server's active connections (`tcp_state_active_table`,
/// Linux 4.7 and later: the handshake's states with ESTABLISHED); every other state, UDP's
/// included, is inactive. Of SCTP's, only ESTABLISHED is active (`set_sctp_state`).
const ACTIVE: u32 = 1 << ES | 1 << SS | 1 << SR | 1 << SA;

/// Whether a connection in `state` is active (see [`ACTIVE`]).
#[inline(always)]
pub fn conn_active(state: u8) -> bool {
    (state < 32 && ACTIVE >> state & 1 != 0) || state == crate::CONN_S_SCTP_ESTABLISHED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_as_written() {
        assert_eq!(tcp_next_state(TCP_DIR_INPUT, SYN, CONN_S_NONE), SR);
        assert_eq!(tcp_next_state(TCP_DIR_INPUT, FIN | ACK, ES), CW);
        assert_eq!(tcp_next_state(TCP_DIR_INPUT_ONLY, FIN | ACK, ES), FW);
        assert_eq!(tcp_next_state(TCP_DIR_OUTPUT, SYN | ACK, SR), SR);
        assert_eq!(tcp_next_state(TCP_DIR_OUTPUT, FIN | ACK, SA), TW);
        assert_eq!(tcp_next_state(TCP_DIR_INPUT_ONLY, RST | ACK, SA), CL);
        // RST wins over SYN, SYN over FIN; no flag at all is CLOSE.
        assert_eq!(tcp_next_state(TCP_DIR_INPUT, RST | SYN, ES), CL);
        assert_eq!(tcp_next_state(TCP_DIR_INPUT, SYN | FIN, ES), ES);
        assert_eq!(tcp_next_state(TCP_DIR_INPUT, 0x08, ES), CL);
        assert_eq!(tcp_next_state(TCP_DIR_INPUT, ACK, CONN_S_UDP), CONN_S_UDP);
    }

    #[test]
    fn active_states_are_ipvs_s() {
        let mut active = [""; TCP_STATES as usize];
        let mut n = 0;
        for s in (0..TCP_STATES).filter(|s| conn_active(*s)) {
            active[n] = state_name(s);
            n += 1;
        }
        assert_eq!(
            active[..n],
            ["ESTABLISHED", "SYN_SENT", "SYN_RECV", "SYNACK"]
        );
        assert!(!conn_active(CONN_S_UDP));
        assert_eq!(state_name(CONN_S_UDP), "UDP");
        assert_eq!(state_name(12), "?");
    }
}
