//! Which network destinations a user-chosen source may reach: public internet addresses only,
//! unless the operator allows a host by name or CIDR (`--allow-hosts`).
//!
//! Every connection to a host named by a source is checked here on the address it will really
//! use: names are resolved once, every address is checked, and the connection is made to exactly
//! those addresses (the HTTP client's resolver hook and the OCI egress proxy both call
//! [`Destinations::resolve`]), so a name cannot resolve to one address for the check and another
//! for the connection. IP literals in URLs are checked with [`Destinations::check_host`] on every
//! redirect hop. A refusal is decided before any connection, so it reads the same whether or not
//! something listens there.

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;

use common::text::shorten;
use ipnet::IpNet;
pub use proto::process::agent_init::AllowEntry;
use proto::process::agent_init::normalize_host_name as normalize_name;
use url::Host;

use crate::error::{Error, Result};

/// Ranges that are never public: loopback, private, shared (CGNAT), link-local (cloud metadata),
/// unspecified, broadcast, multicast, reserved, documentation and benchmarking ranges, and the
/// IPv6 transition forms that could smuggle an IPv4 address in. IPv4-mapped IPv6 addresses are
/// checked as the IPv4 address they map to; NAT64 addresses (64:ff9b::/96) by the IPv4 address
/// they embed.
const BLOCKED: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "2002::/16",
    "3fff::/20",
    "5f00::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
];

/// NAT64's well-known prefix: the last 32 bits are the IPv4 destination.
const NAT64: &str = "64:ff9b::/96";

/// Names of cloud metadata services, refused without even resolving them.
const METADATA_NAMES: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
];

static BLOCKED_NETS: LazyLock<Vec<IpNet>> = LazyLock::new(|| {
    BLOCKED
        .iter()
        .map(|net| net.parse().expect("the blocked ranges are valid CIDRs"))
        .collect()
});

static NAT64_NET: LazyLock<IpNet> =
    LazyLock::new(|| NAT64.parse().expect("the NAT64 prefix is a valid CIDR"));

/// The destinations a source may reach: public addresses plus what the operator allows.
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    names: Vec<String>,
    nets: Vec<IpNet>,
}

impl Destinations {
    /// Public addresses plus the given allowances.
    pub fn new(allowed: &[AllowEntry]) -> Self {
        let mut destinations = Destinations::default();
        for entry in allowed {
            match entry {
                AllowEntry::Name(name) => destinations.names.push(name.clone()),
                AllowEntry::Net(net) => destinations.nets.push(*net),
            }
        }
        destinations
    }

    /// Whether a connection to `ip` is allowed.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip)) || is_public(ip)
    }

    /// Checks what can be checked of a URL host before connecting: an IP literal entirely, a name
    /// against the metadata names (its addresses are checked when it is resolved).
    pub fn check_host<S: AsRef<str>>(&self, host: &Host<S>) -> Result<()> {
        let allowed = match host {
            Host::Ipv4(ip) => self.allows_ip(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => self.allows_ip(IpAddr::V6(*ip)),
            Host::Domain(name) => {
                let name = normalize_name(name.as_ref());
                self.names.contains(&name) || !METADATA_NAMES.contains(&name.as_str())
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(refused(&host.to_string()))
        }
    }

    /// Resolves `host` (a name or an IP literal, IPv6 with or without brackets) and returns the
    /// addresses with `port`, all of them allowed; refuses the host if any address is not.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            if !self.allows_ip(ip) {
                return Err(refused(host));
            }
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        self.check_host(&Host::Domain(bare))?;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| Error::io(format!("resolving {}", shorten(bare, 100)), e))?
            .collect();
        if addrs.is_empty() {
            return Err(Error::io(
                format!("resolving {}", shorten(bare, 100)),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses"),
            ));
        }
        let named = self.names.contains(&normalize_name(bare));
        if !named && !addrs.iter().all(|addr| self.allows_ip(addr.ip())) {
            tracing::debug!(
                host = bare,
                ?addrs,
                "refused a name resolving to a non-public address"
            );
            return Err(refused(bare));
        }
        Ok(addrs)
    }
}

/// The one refusal, the same for every reason a destination is refused.
pub(crate) fn refused(host: &str) -> Error {
    Error::DestinationRefused {
        host: shorten(host, 100),
    }
}

/// The refusal among an error's causes, if a destination was refused.
pub(crate) fn find_refusal(error: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(Error::DestinationRefused { host }) = e.downcast_ref::<Error>() {
            return Some(Error::DestinationRefused { host: host.clone() });
        }
        current = e.source();
    }
    None
}

/// Whether an address is reachable on the public internet (not in any blocked range).
pub fn is_public(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    if let IpAddr::V6(v6) = ip {
        if NAT64_NET.contains(&ip) {
            let [.., a, b, c, d] = v6.octets();
            return is_public(IpAddr::from([a, b, c, d]));
        }
    }
    !BLOCKED_NETS.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests;
