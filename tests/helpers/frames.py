#!/usr/bin/env python3
"""Raw Ethernet frames for the network tests (run inside a namespace).

  frames.py send DEV HEX...        send each frame (hex) on DEV
  frames.py count DEV TOKEN SECS   print how many frames carrying TOKEN
                                   arrive on DEV within SECS ("ready" first)

The builders below are imported by the tests: each returns bytes with the
caller's token in its payload, so a receiver can tell test frames from the
kernel's own chatter (DAD, router solicitations).
"""
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def eth(dst, src, ethertype, payload):
    return mac(dst) + mac(src) + struct.pack("!H", ethertype) + payload


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ipv6(src, dst, nexthdr, payload):
    return (struct.pack("!IHBB", 6 << 28, len(payload), nexthdr, 64) +
            socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) +
            payload)


def udp4_frame(smac, dmac, sip, dip, token, sport=4000, dport=4000):
    return eth(dmac, smac, 0x0800, ipv4(sip, dip, 17, udp(sport, dport, token)))


def udp6_frame(smac, dmac, sip, dip, token, sport=4000, dport=4000):
    return eth(dmac, smac, 0x86dd, ipv6(sip, dip, 17, udp(sport, dport, token)))


def ra_frame(smac, sip, token):
    """An ICMPv6 router advertisement to all nodes."""
    icmp = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0) + token
    return eth("33:33:00:00:00:01", smac, 0x86dd, ipv6(sip, "ff02::1", 58, icmp))


def arp_frame(smac, sha, spa, tpa, token):
    """A gratuitous ARP (request, broadcast): sha says spa is at sha."""
    a = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac(sha), socket.inet_aton(spa),
                    b"\0" * 6, socket.inet_aton(tpa))
    return eth("ff:ff:ff:ff:ff:ff", smac, 0x0806, a + token)


def dhcp_frame(smac, sip, token, op=2, sport=67, dport=68, chaddr=None, msgtype=None):
    """A DHCP message (default: an offer from a server) to the broadcast address."""
    msgtype = msgtype or (2 if op == 2 else 1)
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s", op, 1, 6, 0, 0x1234, 0, 0, b"\0" * 4,
                        socket.inet_aton("198.51.100.77"), b"\0" * 4, b"\0" * 4,
                        mac(chaddr or smac) + b"\0" * 10)
    bootp += b"\0" * 192 + b"\x63\x82\x53\x63" + bytes([53, 1, msgtype, 255])
    return udp4_frame(smac, "ff:ff:ff:ff:ff:ff", sip, "255.255.255.255", bootp + token,
                      sport, dport)


def raw_frame(smac, dmac, ethertype, token):
    return eth(dmac, smac, ethertype, token + b"\0" * 46)


def vlan_frame(smac, dmac, vid, token):
    """An 802.1Q-tagged frame (a guest on a VLAN of its own making)."""
    return eth(dmac, smac, 0x8100, struct.pack("!HH", vid, 0x88b5) + token + b"\0" * 42)


def main():
    cmd, dev = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((dev, ETH_P_ALL))
    if cmd == "send":
        for h in sys.argv[3:]:
            s.send(bytes.fromhex(h))
        return
    token, end = sys.argv[3].encode(), time.monotonic() + float(sys.argv[4])
    n = 0
    print("ready", flush=True)
    while (left := end - time.monotonic()) > 0:
        s.settimeout(left)
        try:
            data, addr = s.recvfrom(65536)
        except socket.timeout:
            break
        if addr[2] != socket.PACKET_OUTGOING and token in data:
            n += 1
    print(n, flush=True)


if __name__ == "__main__":
    main()
