package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		addr          string
		always        string // the refusal's reason whatever AllowPrivate, "" if allowed
		beyondLoopack string // the refusal's reason without AllowPrivate, "" if allowed
	}{
		{"93.184.216.34", "", ""},
		{"2606:2800:220:1:248:1893:25c8:1946", "", ""},
		{"169.254.169.254", "link-local", "link-local"},
		{"169.254.170.2", "link-local", "link-local"},
		{"::ffff:169.254.169.254", "link-local", "link-local"},
		{"64:ff9b::a9fe:a9fe", "link-local", "link-local"},
		{"fe80::1", "link-local", "link-local"},
		{"fd00:ec2::254", "metadata", "metadata"},
		{"100.100.100.200", "metadata", "metadata"},
		{"0.0.0.0", "unspecified", "unspecified"},
		{"0.1.2.3", "unspecified", "unspecified"},
		{"::", "unspecified", "unspecified"},
		{"224.0.0.1", "multicast", "multicast"},
		{"ff02::1", "multicast", "multicast"},
		{"255.255.255.255", "broadcast", "broadcast"},
		{"240.0.0.1", "reserved", "reserved"},
		{"127.0.0.1", "", "loopback"},
		{"127.8.9.10", "", "loopback"},
		{"::1", "", "loopback"},
		{"::ffff:127.0.0.1", "", "loopback"},
		{"10.0.0.1", "", "private"},
		{"172.16.5.4", "", "private"},
		{"192.168.1.1", "", "private"},
		{"fd12:3456::1", "", "private"},
		{"100.64.0.1", "", "private"},
		{"172.32.0.1", "", ""},
		// IPv6 forms of IPv4 addresses: each carries the IPv4 address's
		// verdict.
		{"::ffff:10.0.0.1", "", "private"},                        // IPv4-mapped
		{"::ffff:a9fe:a9fe", "link-local", "link-local"},          // IPv4-mapped, in hex
		{"::169.254.169.254", "link-local", "link-local"},         // IPv4-compatible
		{"::127.0.0.1", "IPv4-compatible", "loopback"},            // IPv4-compatible
		{"::10.1.2.3", "IPv4-compatible", "private"},              // IPv4-compatible
		{"::93.184.216.34", "IPv4-compatible", "IPv4-compatible"}, // deprecated, unroutable
		{"::ffff:0:169.254.169.254", "link-local", "link-local"},  // IPv4-translated
		{"::ffff:0:192.168.0.1", "", "private"},                   // IPv4-translated
		{"64:ff9b::169.254.169.254", "NAT64", "NAT64"},
		{"64:ff9b::7f00:1", "", "loopback"},
		{"64:ff9b::10.0.0.1", "", "private"},
		{"64:ff9b::100.100.100.200", "metadata", "metadata"},
		{"64:ff9b::93.184.216.34", "", ""},
		{"64:ff9b:1::a9fe:a9fe", "local-use NAT64", "local-use NAT64"},
		{"2002:a9fe:a9fe::1", "6to4", "6to4"},
		{"2002:a9fe:a9fe::1", "link-local", "link-local"},
		{"2002:7f00:1::1", "", "loopback"},
		{"2002:c0a8:101::1", "", "private"},
		{"2002:5db8:d822::1", "", ""},
		{"2001:0:a9fe:a9fe::1", "Teredo server", "Teredo server"},
		{"2001:0:5db8:d822:0:0:5601:5656", "link-local", "link-local"}, // client ^ ffffffff = 169.254.169.169
		{"2001:0:5db8:d822:0:0:80ff:fffe", "", "loopback"},             // client 127.0.0.1
		{"2001:0:5db8:d822:0:0:f5ff:fefe", "", "private"},              // client 10.0.1.1
		{"2001:0:5db8:d822::a247:2bdd", "", ""},                        // client 93.184.212.34
		{"2001:4860::1", "", ""},                                       // 2001::/32 only is Teredo
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			for _, p := range []struct {
				policy Policy
				want   string
			}{{Policy{AllowPrivate: true}, tt.always}, {Policy{}, tt.beyondLoopack}} {
				err := p.policy.Check(ip)
				var refused *RefusedError
				switch {
				case p.want == "" && err != nil:
					t.Errorf("%+v.Check(%s) = %v, want allowed", p.policy, ip, err)
				case p.want != "" && (!errors.As(err, &refused) || !strings.Contains(err.Error(), p.want)):
					t.Errorf("%+v.Check(%s) = %v, want a refusal naming %q", p.policy, ip, err, p.want)
				}
			}
		})
	}
}

// TestControl: the dialer hook refuses the metadata address it is handed
// after resolution (no connection is made: Control runs before it).
func TestControl(t *testing.T) {
	err := Policy{AllowPrivate: true}.Control("tcp4", "169.254.169.254:80", nil)
	if !strings.Contains(err.Error(), "refused to connect to 169.254.169.254") {
		t.Errorf("Control(169.254.169.254:80) = %v, want a refusal", err)
	}
	if err := (Policy{}).Control("tcp6", "[2606:2800:220:1::1]:443", nil); err != nil {
		t.Errorf("Control(a public IPv6 address) = %v, want nil", err)
	}
	if err := (Policy{}).Control("tcp", "nonsense", nil); err == nil {
		t.Errorf("Control(nonsense) = nil, want an error")
	}
}
