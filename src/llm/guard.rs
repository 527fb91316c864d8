//! Which hosts a caller-supplied `base_url` may point the server at. A BYO `llm.base_url`
//! would otherwise let any API key holder make the server send requests to its own network
//! (cloud metadata services, admin ports on loopback, internal hosts). By default only
//! public addresses are allowed; an operator opts in to private ones (a local Ollama, an
//! internal proxy) by configuration.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

/// The rule for caller-supplied base URLs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BaseUrlPolicy {
    /// Allow loopback, private, link-local and other non-public addresses.
    pub allow_private: bool,
}

impl BaseUrlPolicy {
    /// `Ok` when `url` is an `http(s)` URL whose host resolves only to allowed addresses.
    ///
    /// The check resolves the host now; redirects are never followed by the client, and the
    /// address is resolved again when connecting, so a DNS answer that changes between the two
    /// (rebinding) is the remaining gap: deployments that must close it should also restrict
    /// egress at the network level.
    pub fn check(&self, url: &str) -> Result<(), String> {
        let uri: ureq::http::Uri = url
            .parse()
            .map_err(|_| format!("base_url is not a valid URL: {url:?}"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err("base_url must be an http or https URL".into()),
        }
        let host = uri
            .host()
            .ok_or_else(|| "base_url has no host".to_owned())?;
        if self.allow_private {
            return Ok(());
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => (host, port)
                .to_socket_addrs()
                .map_err(|e| format!("base_url host {host:?} does not resolve: {e}"))?
                .map(|a| a.ip())
                .collect(),
        };
        if addresses.is_empty() {
            return Err(format!("base_url host {host:?} does not resolve"));
        }
        if let Some(ip) = addresses.iter().find(|ip| !is_public(**ip)) {
            return Err(format!(
                "base_url host {host:?} resolves to a non-public address ({ip}); this server \
                 does not allow it (operators: --llm-allow-private-base-url)"
            ));
        }
        Ok(())
    }
}

/// Whether `ip` is a globally routable unicast address.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            is_public_v6(v6)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // Benchmarking 198.18.0.0/15, reserved 240.0.0.0/4.
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // IPv4-compatible and NAT64 forms carry an IPv4 address that could be private.
        || (first == 0x0064 && ip.segments()[1] == 0xff9b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        let strict = BaseUrlPolicy::default();
        for url in [
            "http://127.0.0.1:8080/v1",
            "http://localhost/v1",
            "http://10.1.2.3/v1",
            "http://192.168.0.1/v1",
            "http://172.16.5.4/v1",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/v1",
            "http://0.0.0.0/v1",
            "http://[::1]/v1",
            "http://[fd00::1]/v1",
            "http://[fe80::1]/v1",
            "http://[::ffff:127.0.0.1]/v1",
        ] {
            assert!(strict.check(url).is_err(), "{url} should be refused");
        }
        for url in ["http://8.8.8.8/v1", "https://[2606:4700::1111]/v1"] {
            assert_eq!(strict.check(url), Ok(()), "{url}");
        }
        let open = BaseUrlPolicy {
            allow_private: true,
        };
        assert_eq!(open.check("http://127.0.0.1:11434/v1"), Ok(()));
    }

    #[test]
    fn only_http_urls_with_a_host_are_accepted() {
        let open = BaseUrlPolicy {
            allow_private: true,
        };
        for url in [
            "file:///etc/passwd",
            "ftp://example.com",
            "not a url",
            "/v1",
        ] {
            assert!(open.check(url).is_err(), "{url}");
        }
    }
}
