package dev

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// beyondLoopback reports whether listening on host (as Options.Host,
// already checked by Run) exposes the system to other machines: all
// interfaces (0.0.0.0, ::).
func beyondLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// externalIPs returns the addresses other machines may reach this one at:
// the unicast addresses of its interfaces, loopback and IPv6 link-local
// ones (which need a zone to be used) left out. ipv6 includes IPv6 ones
// (when listening on ::).
func externalIPs(ipv6 bool) []net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast() || n.IP.IsMulticast() {
			continue
		}
		if n.IP.To4() == nil && !ipv6 {
			continue
		}
		ips = append(ips, n.IP)
	}
	return ips
}

// hostHeaders returns the Host header values under which the servers
// listening on host at port may be reached: loopback names always, and,
// when listening beyond loopback, this machine's addresses and host name.
func hostHeaders(host string, port int) []string {
	p := strconv.Itoa(port)
	names := []string{"localhost", "127.0.0.1", "::1"}
	if beyondLoopback(host) {
		for _, ip := range externalIPs(strings.Contains(host, ":")) {
			names = append(names, ip.String())
		}
		if h, err := os.Hostname(); err == nil && h != "" {
			names = append(names, h)
		}
	} else if !slices.Contains(names, host) {
		names = append(names, host)
	}
	var out []string
	for _, n := range names {
		out = append(out, net.JoinHostPort(n, p))
		if port == 80 {
			out = append(out, n) // a client may leave the default port out
		}
	}
	return out
}
