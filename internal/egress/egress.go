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
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
)

// Check returns a *RefusedError when the policy forbids connecting to ip,
// nil when it allows it.
func (p Policy) Check(ip netip.Addr) error {
	ip = ip.Unmap().WithZone("")
	if nat64.Contains(ip) {
		// The IPv4 address a NAT64 gateway would connect to.
		b := ip.As16()
		if err := p.Check(netip.AddrFrom4([4]byte(b[12:]))); err != nil {
			return &RefusedError{Addr: ip, Reason: "a NAT64 address of " + err.(*RefusedError).Reason}
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
