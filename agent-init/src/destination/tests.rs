//! The address classification and the `--allow-hosts` entries, table-tested.

use super::*;

#[test]
fn addresses_are_public_or_not() {
    let cases = [
        ("8.8.8.8", true),
        ("1.1.1.1", true),
        ("151.101.1.69", true),
        ("2606:4700:4700::1111", true),
        ("2a00:1450:4001:830::200e", true),
        ("64:ff9b::808:808", true),
        ("127.0.0.1", false),
        ("127.255.255.254", false),
        ("0.0.0.0", false),
        ("0.1.2.3", false),
        ("10.0.0.1", false),
        ("172.16.0.1", false),
        ("172.31.255.255", false),
        ("192.168.1.1", false),
        ("100.64.0.1", false),
        ("100.100.100.200", false),
        ("169.254.169.254", false),
        ("192.0.0.192", false),
        ("192.0.2.1", false),
        ("198.18.0.1", false),
        ("198.51.100.7", false),
        ("203.0.113.9", false),
        ("224.0.0.1", false),
        ("239.255.255.250", false),
        ("240.0.0.1", false),
        ("255.255.255.255", false),
        ("::", false),
        ("::1", false),
        ("::ffff:127.0.0.1", false),
        ("::ffff:169.254.169.254", false),
        ("::ffff:10.1.2.3", false),
        ("::127.0.0.1", false),
        ("::8.8.8.8", false),
        ("64:ff9b::7f00:1", false),
        ("64:ff9b::a9fe:a9fe", false),
        ("64:ff9b:1::1", false),
        ("2001::1", false),
        ("2001:db8::1", false),
        ("2002:7f00:1::1", false),
        ("fc00::1", false),
        ("fd00:ec2::254", false),
        ("fe80::1", false),
        ("fec0::1", false),
        ("ff02::1", false),
        ("100::1", false),
        ("3fff::1", false),
    ];
    for (text, public) in cases {
        let ip: IpAddr = text.parse().unwrap();
        assert_eq!(is_public(ip), public, "{text}");
    }
}

#[test]
fn allow_entries_parse_as_names_addresses_or_ranges() {
    let net = |text: &str| AllowEntry::Net(text.parse().unwrap());
    let name = |text: &str| AllowEntry::Name(text.to_owned());
    let cases = [
        ("artifacts.internal", Some(name("artifacts.internal"))),
        ("Minio.Storage.SVC.", Some(name("minio.storage.svc"))),
        ("localhost", Some(name("localhost"))),
        ("10.0.0.5", Some(net("10.0.0.5/32"))),
        ("10.1.2.3/16", Some(net("10.1.0.0/16"))),
        ("::1", Some(net("::1/128"))),
        ("[fd00::5]", Some(net("fd00::5/128"))),
        ("::ffff:10.0.0.5", Some(net("10.0.0.5/32"))),
        ("fd00::/8", Some(net("fd00::/8"))),
        ("", None),
        ("10.0.0.0/33", None),
        ("http://artifacts", None),
        ("artifacts:9000", None),
        ("a..b", None),
        ("bad name", None),
    ];
    for (text, want) in cases {
        assert_eq!(text.parse::<AllowEntry>().ok(), want, "{text:?}");
    }
}

#[test]
fn allowances_open_exactly_what_they_name() {
    let destinations = Destinations::new(&[
        "10.1.0.0/16".parse().unwrap(),
        "127.0.0.2".parse().unwrap(),
        "metadata.google.internal".parse().unwrap(),
    ]);
    let ip = |text: &str| text.parse::<IpAddr>().unwrap();
    assert!(destinations.allows_ip(ip("10.1.200.3")));
    assert!(destinations.allows_ip(ip("::ffff:10.1.200.3")));
    assert!(!destinations.allows_ip(ip("10.2.0.1")));
    assert!(destinations.allows_ip(ip("127.0.0.2")));
    assert!(!destinations.allows_ip(ip("127.0.0.1")));
    assert!(destinations.allows_ip(ip("8.8.8.8")));
    let host = |text: &str| Host::parse(text).unwrap();
    assert!(
        destinations
            .check_host(&host("metadata.google.internal"))
            .is_ok()
    );
    let default = Destinations::default();
    for refused in [
        "metadata.google.internal",
        "METADATA.google.internal.",
        "metadata",
        "127.0.0.1",
        "[::1]",
        "[::ffff:7f00:1]",
        "2130706433",
        "0x7f.1",
        "169.254.169.254",
    ] {
        let error = default.check_host(&host(refused)).unwrap_err();
        assert_eq!(error.exit_code(), 10, "{refused}");
        assert!(
            error.to_string().contains("--allow-hosts"),
            "{refused}: {error}"
        );
    }
    assert!(default.check_host(&host("example.com")).is_ok());
}

#[tokio::test]
async fn names_are_checked_on_every_address_they_resolve_to() {
    let default = Destinations::default();
    let error = default.resolve("localhost", 80).await.unwrap_err();
    assert!(matches!(error, Error::DestinationRefused { .. }), "{error}");
    let error = default.resolve("[::1]", 80).await.unwrap_err();
    assert!(matches!(error, Error::DestinationRefused { .. }), "{error}");

    let by_name = Destinations::new(&["localhost".parse().unwrap()]);
    let addrs = by_name.resolve("LocalHost", 8080).await.unwrap();
    assert!(!addrs.is_empty());
    assert!(
        addrs
            .iter()
            .all(|addr| addr.ip().is_loopback() && addr.port() == 8080)
    );
    let error = by_name.resolve("127.0.0.1", 80).await.unwrap_err();
    assert!(
        matches!(error, Error::DestinationRefused { .. }),
        "a name allowance does not open its addresses to literals: {error}"
    );
}
