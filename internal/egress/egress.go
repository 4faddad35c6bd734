// Package egress decides where `crossfaas dev`'s offline labeler may fetch
// images from. The labeler fetches any http(s) URL it is given, so without
// a rule it would fetch, for whoever can reach it, the cloud metadata
// service (169.254.169.254) or the services of a private network.
//
// The rule is applied to the address a connection is about to be made to,
// after DNS resolution and for every connection (each redirect included),
// by a net.Dialer Control function: a name resolving to a refused address
// is refused, whatever the URL said.
package egress

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Policy says which addresses a fetch may connect to. Link-local,
// metadata, multicast, broadcast, unspecified and reserved addresses are
// always refused.
type Policy struct {
	// AllowPrivate lets fetches reach loopback and private addresses
	// (RFC 1918, unique local IPv6, carrier-grade NAT). `crossfaas dev`
	// allows them while it listens on loopback only, where nobody but the
	// developer can ask for a fetch, and refuses them when it listens on
	// all interfaces.
	AllowPrivate bool
}

// RefusedError reports a connection the policy refused.
type RefusedError struct {
	Addr   netip.Addr
	Reason string // e.g. "a link-local address, where cloud metadata services answer"
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: it is %s", e.Addr, e.Reason)
}

// Addresses of cloud metadata services outside the link-local ranges.
var metadata = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),   // Amazon EC2 over IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	reserved    = netip.MustParsePrefix("240.0.0.0/4") // includes 255.255.255.255
	sharedCGNAT = netip.MustParsePrefix("100.64.0.0/10")
)

// IPv6 prefixes that carry an IPv4 address, and reach it through a
// translator or a tunnel: a refused IPv4 address is refused in each of
// these forms too.
var (
	// IPv4-compatible addresses (RFC 4291, deprecated): ::a.b.c.d.
	v4Compatible = netip.MustParsePrefix("::/96")
	// IPv4-translated addresses (RFC 2765, SIIT): ::ffff:0:a.b.c.d.
	v4Translated = netip.MustParsePrefix("::ffff:0:0:0/96")
	// NAT64's well-known prefix (RFC 6052): 64:ff9b::a.b.c.d.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// NAT64's local-use prefix (RFC 8215): where the IPv4 address sits
	// depends on the operator's prefix length, so it cannot be checked.
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	// 6to4 (RFC 3056): 2002:AABB:CCDD::/48 routes to a.b.c.d.
	sixToFour = netip.MustParsePrefix("2002::/16")
	// Teredo (RFC 4380): 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC holds the
	// server's IPv4 address and the client's, inverted.
	teredo = netip.MustParsePrefix("2001::/32")
)

// embedded is an IPv4 address an IPv6 address leads to, and the form
// that carries it.
type embedded struct {
	v4   netip.Addr
	form string
}

// embeddedV4 returns the IPv4 addresses ip (unmapped) carries: none for
// an ordinary IPv6 or an IPv4 address.
func embeddedV4(ip netip.Addr) []embedded {
	if !ip.Is6() {
		return nil
	}
	b := ip.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte(b[i : i+4])) }
	switch {
	case ip.IsUnspecified() || ip.IsLoopback():
		return nil // :: and ::1 are IPv6's own
	case v4Compatible.Contains(ip):
		return []embedded{{v4(12), "IPv4-compatible"}}
	case v4Translated.Contains(ip):
		return []embedded{{v4(12), "IPv4-translated"}}
	case nat64.Contains(ip):
		return []embedded{{v4(12), "NAT64"}}
	case sixToFour.Contains(ip):
		return []embedded{{v4(2), "6to4"}}
	case teredo.Contains(ip):
		client := [4]byte(b[12:16])
		for i := range client {
			client[i] ^= 0xff
		}
		return []embedded{{v4(4), "Teredo server"}, {netip.AddrFrom4(client), "Teredo client"}}
	}
	return nil
}

// Check returns a *RefusedError when the policy forbids connecting to ip,
// nil when it allows it. An IPv6 address that carries an IPv4 address
// (mapped, compatible, translated, NAT64, 6to4, Teredo) is refused when
// the IPv4 address is.
func (p Policy) Check(ip netip.Addr) error {
	ip = ip.Unmap().WithZone("")
	for _, e := range embeddedV4(ip) {
		if err := p.Check(e.v4); err != nil {
			return &RefusedError{Addr: ip, Reason: fmt.Sprintf("a %s form of %s, %s", e.form, e.v4, err.(*RefusedError).Reason)}
		}
	}
	refuse := func(reason string) error { return &RefusedError{Addr: ip, Reason: reason} }
	switch {
	case !ip.IsValid():
		return refuse("not an IP address")
	case ip.IsUnspecified() || thisNetwork.Contains(ip):
		return refuse("an unspecified address, which means this machine")
	case ip.IsLinkLocalUnicast():
		return refuse("a link-local address, where cloud metadata services answer")
	case isMetadata(ip):
		return refuse("a cloud metadata service's address")
	case ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsLinkLocalMulticast():
		return refuse("a multicast address")
	case reserved.Contains(ip):
		return refuse("a reserved or broadcast address")
	case v4Compatible.Contains(ip) && !ip.IsLoopback():
		return refuse("a deprecated IPv4-compatible address, which no network routes")
	case nat64Local.Contains(ip):
		return refuse("a local-use NAT64 address, whose IPv4 destination cannot be told")
	case p.AllowPrivate:
		return nil
	case ip.IsLoopback():
		return refuse("a loopback address, refused while crossfaas dev listens beyond loopback")
	case ip.IsPrivate() || sharedCGNAT.Contains(ip):
		return refuse("a private network address, refused while crossfaas dev listens beyond loopback")
	}
	return nil
}

func isMetadata(ip netip.Addr) bool {
	for _, m := range metadata {
		if ip == m {
			return true
		}
	}
	return false
}

// Control is a net.Dialer Control function applying p to the address a
// connection is about to be made to (after DNS resolution).
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: %s address %q: %w", network, address, err)
	}
	return p.Check(ap.Addr())
}

// Client returns an http.Client whose every connection passes p, with an
// overall timeout. It ignores the proxy environment variables: through a
// proxy, the policy would see the proxy's address instead of the
// destination's.
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: p.Control}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          10,
			IdleConnTimeout:       30 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}
}
