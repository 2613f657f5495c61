//! Caps on open connections, per client address and in total.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The server holds its maximum of open connections.
    #[error("too many open connections")]
    Total,
    /// The client's address holds its maximum of open connections.
    #[error("too many open connections from this address")]
    PerAddress,
}

/// Counts open connections; [`ConnectionLimits::admit`] hands out a [`Permit`] per connection.
#[derive(Debug)]
pub struct ConnectionLimits {
    total: usize,
    per_address: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl ConnectionLimits {
    /// At most `total` connections, and `per_address` from one address.
    pub fn new(total: usize, per_address: usize) -> Arc<Self> {
        Arc::new(ConnectionLimits { total, per_address, open: Mutex::default() })
    }

    /// Count a new connection from `ip`, unless a cap is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refusal> {
        let key = address_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.total {
            return Err(Refusal::Total);
        }
        let from_address = open.by_address.entry(key).or_default();
        if *from_address >= self.per_address {
            return Err(Refusal::PerAddress);
        }
        *from_address += 1;
        open.total += 1;
        Ok(Permit { limits: self.clone(), key })
    }

    /// Open connections now (all, and from `ip`).
    pub fn open(&self, ip: IpAddr) -> (usize, usize) {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        (open.total, open.by_address.get(&address_key(ip)).copied().unwrap_or(0))
    }
}

/// One open connection; dropping it frees its place.
#[derive(Debug)]
pub struct Permit {
    limits: Arc<ConnectionLimits>,
    key: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_address.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_address.remove(&self.key);
            }
        }
    }
}

/// The unit one client holds: an IPv4 address, or an IPv6 /64 (what one subscriber gets).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn per_address_cap_and_release() {
        let limits = ConnectionLimits::new(10, 2);
        let first = limits.admit(ip("10.0.0.1")).expect("first");
        let _second = limits.admit(ip("10.0.0.1")).expect("second");
        assert_eq!(limits.admit(ip("10.0.0.1")).err(), Some(Refusal::PerAddress));
        assert!(limits.admit(ip("10.0.0.2")).is_ok(), "another address");
        drop(first);
        assert!(limits.admit(ip("10.0.0.1")).is_ok(), "a place was freed");
    }

    #[test]
    fn total_cap_and_release() {
        let limits = ConnectionLimits::new(2, 10);
        let first = limits.admit(ip("10.0.0.1")).expect("first");
        let _second = limits.admit(ip("10.0.0.2")).expect("second");
        assert_eq!(limits.admit(ip("10.0.0.3")).err(), Some(Refusal::Total));
        drop(first);
        let _third = limits.admit(ip("10.0.0.3")).expect("a place was freed");
        assert_eq!(limits.open(ip("10.0.0.1")), (2, 0), "the map forgets empty addresses");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let limits = ConnectionLimits::new(10, 1);
        let _a = limits.admit(ip("2001:db8::1")).expect("first");
        assert_eq!(limits.admit(ip("2001:db8::2")).err(), Some(Refusal::PerAddress), "same /64");
        assert!(limits.admit(ip("2001:db8:0:1::1")).is_ok(), "another /64");
        let _b = limits.admit(ip("10.0.0.9")).expect("ipv4");
        assert_eq!(limits.admit(ip("::ffff:10.0.0.9")).err(), Some(Refusal::PerAddress));
    }
}
