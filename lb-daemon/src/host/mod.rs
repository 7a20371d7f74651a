//! The director host's networking around the data plane (a service layer beside health and
//! expiry): IP forwarding, interface MTUs, neighbour entries for real servers (the kernel's
//! links and neighbours by rtnetlink), and entering a network namespace.

pub mod forwarding;
pub mod mtu;
pub mod neigh;
pub mod netlink;
pub mod netns;
