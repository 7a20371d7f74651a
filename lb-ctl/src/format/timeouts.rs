//! `-L --timeout`.

/// `list_timeout` (`-L --timeout`).
///
/// ```c
/// printf("Timeout (tcp tcpfin udp): %d %d %d\n", u->tcp_timeout, u->tcp_fin_timeout, u->udp_timeout);
/// ```
pub fn timeouts(tcp: u32, tcpfin: u32, udp: u32) -> String {
    format!("Timeout (tcp tcpfin udp): {tcp} {tcpfin} {udp}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_line() {
        assert_eq!(
            timeouts(900, 120, 300),
            "Timeout (tcp tcpfin udp): 900 120 300\n"
        );
    }
}
