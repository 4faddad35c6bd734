package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The trap of TestOfflineMakesNoNetworkCall: a network namespace's
// loopback made to answer for every address, and listeners recording
// whatever tries to leave.

// setUpTrapNetwork brings lo up, makes every address local to it and
// points the resolver at 127.0.0.1. It reports whether IPv6 is trapped too.
func setUpTrapNetwork() (ipv6 bool, err error) {
	if err := interfaceUp("lo"); err != nil {
		return false, fmt.Errorf("bring lo up: %w", err)
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return false, err
	}
	if err := addLocalRoute(syscall.AF_INET, lo.Index); err != nil {
		return false, fmt.Errorf("route 0.0.0.0/0 to lo: %w", err)
	}
	ipv6 = addLocalRoute(syscall.AF_INET6, lo.Index) == nil
	resolv, err := os.CreateTemp("", "resolv.conf")
	if err != nil {
		return false, err
	}
	if _, err := resolv.WriteString("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"); err != nil {
		return false, err
	}
	resolv.Close()
	if err := syscall.Mount(resolv.Name(), "/etc/resolv.conf", "", syscall.MS_BIND, ""); err != nil {
		return false, fmt.Errorf("bind-mount a resolv.conf naming the trap: %w", err)
	}
	return ipv6, nil
}

// interfaceUp sets the IFF_UP flag of the interface called name.
func interfaceUp(name string) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var ifr struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(ifr.name[:], name)
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCGIFFLAGS, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return errno
	}
	ifr.flags |= syscall.IFF_UP | syscall.IFF_RUNNING
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.SIOCSIFFLAGS, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return errno
	}
	return nil
}

// addLocalRoute adds "local <all addresses of family> dev <ifindex>" to
// the local routing table, as `ip route add local 0.0.0.0/0 dev lo` does,
// through a netlink RTM_NEWROUTE request.
func addLocalRoute(family, ifindex int) error {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	ne := binary.NativeEndian
	// struct rtmsg: family, dst_len 0 (all addresses), src_len, tos,
	// table, protocol, scope, type, flags.
	body := []byte{byte(family), 0, 0, 0, syscall.RT_TABLE_LOCAL, syscall.RTPROT_BOOT, syscall.RT_SCOPE_HOST, syscall.RTN_LOCAL, 0, 0, 0, 0}
	attr := make([]byte, 8) // struct rtattr RTA_OIF + the interface index
	ne.PutUint16(attr[0:], 8)
	ne.PutUint16(attr[2:], syscall.RTA_OIF)
	ne.PutUint32(attr[4:], uint32(ifindex))
	body = append(body, attr...)
	msg := make([]byte, syscall.NLMSG_HDRLEN, syscall.NLMSG_HDRLEN+len(body))
	ne.PutUint32(msg[0:], uint32(syscall.NLMSG_HDRLEN+len(body)))
	ne.PutUint16(msg[4:], syscall.RTM_NEWROUTE)
	ne.PutUint16(msg[6:], syscall.NLM_F_REQUEST|syscall.NLM_F_ACK|syscall.NLM_F_CREATE|syscall.NLM_F_EXCL)
	ne.PutUint32(msg[8:], 1) // sequence number
	msg = append(msg, body...)
	if err := syscall.Sendto(fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 4096)
	n, _, err := syscall.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	replies, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return err
	}
	for _, r := range replies {
		if r.Header.Type == syscall.NLMSG_ERROR && len(r.Data) >= 4 {
			if code := int32(ne.Uint32(r.Data[:4])); code != 0 {
				return syscall.Errno(-code)
			}
			return nil
		}
	}
	return errors.New("no acknowledgement from netlink")
}

// trap records every TCP connection to ports 53, 80 and 443 and every DNS
// query on port 53, of any address.
type trap struct {
	mu       sync.Mutex
	attempts []string
	closers  []io.Closer
}

func startTrap(ipv6 bool) (*trap, error) {
	tr := &trap{}
	nets := [][2]string{{"tcp4", "0.0.0.0"}, {"udp4", "0.0.0.0"}}
	if ipv6 {
		nets = append(nets, [2]string{"tcp6", "::"}, [2]string{"udp6", "::"})
	}
	for _, n := range nets {
		if strings.HasPrefix(n[0], "udp") {
			pc, err := net.ListenPacket(n[0], net.JoinHostPort(n[1], "53"))
			if err != nil {
				tr.stop()
				return nil, fmt.Errorf("trap: %w", err)
			}
			tr.closers = append(tr.closers, pc)
			go tr.serveDNS(pc)
			continue
		}
		for _, port := range []string{"53", "80", "443"} {
			ln, err := net.Listen(n[0], net.JoinHostPort(n[1], port))
			if err != nil {
				tr.stop()
				return nil, fmt.Errorf("trap: %w", err)
			}
			tr.closers = append(tr.closers, ln)
			go tr.serveTCP(ln)
		}
	}
	return tr, nil
}

func (tr *trap) record(s string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.attempts = append(tr.attempts, s)
}

func (tr *trap) serveDNS(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		tr.record(fmt.Sprintf("DNS query for %s from %s", queryName(buf[:n]), from))
	}
}

func (tr *trap) serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		tr.record(fmt.Sprintf("TCP connection to %s from %s", c.LocalAddr(), c.RemoteAddr()))
		c.Close()
	}
}

// selfCheck proves the trap catches what it must: a connection to an
// address of the internet, one to the cloud metadata address and a name
// lookup; then it forgets them.
func (tr *trap) selfCheck() error {
	for _, addr := range []string{"192.0.2.1:443", "169.254.169.254:80"} {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return fmt.Errorf("trap self-check: dial %s: %w", addr, err)
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	net.DefaultResolver.LookupHost(ctx, "trap-check.example") // fails: the trap does not answer
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tr.mu.Lock()
		caught := strings.Join(tr.attempts, "\n")
		tr.mu.Unlock()
		if strings.Contains(caught, "192.0.2.1:443") && strings.Contains(caught, "169.254.169.254:80") && strings.Contains(caught, "trap-check.example") {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("trap self-check: caught only %q", caught)
		}
	}
	tr.mu.Lock()
	tr.attempts = nil
	tr.mu.Unlock()
	return nil
}

// stop closes the trap and returns what it caught.
func (tr *trap) stop() []string {
	for _, c := range tr.closers {
		c.Close()
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.attempts)
}

// queryName returns the name asked by a DNS query message.
func queryName(msg []byte) string {
	var labels []string
	for i := 12; i < len(msg) && msg[i] != 0; {
		n := int(msg[i])
		if n&0xc0 != 0 || i+1+n > len(msg) {
			break
		}
		labels = append(labels, string(msg[i+1:i+1+n]))
		i += 1 + n
	}
	return strings.Join(labels, ".")
}
