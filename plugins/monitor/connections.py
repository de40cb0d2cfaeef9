"""Open network connections, and which of them go out of the machine.

On Linux the socket tables are read from ``/proc/net/{tcp,tcp6,udp,udp6}``:
that costs well under a millisecond, where ``psutil.net_connections`` walks
every process's file descriptors. Elsewhere psutil is used. The owning
process is looked up only for a connection that raises an alert.

A connection is *outbound* when it has a remote address outside the ignored
networks (loopback by default), is established or being established (TCP) or
connected (UDP), and its local port is not one this machine listens on (that
would be someone connecting in).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from dataclasses import dataclass

LOOPBACK = ("127.0.0.0/8", "::1/128", "::ffff:127.0.0.0/104")
_TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
               "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
               "0B": "CLOSING"}
_ACTIVE = {"ESTABLISHED", "SYN_SENT"}


@dataclass(frozen=True)
class Conn:
    proto: str          # tcp, tcp6, udp, udp6
    laddr: str
    lport: int
    raddr: str
    rport: int
    state: str          # TCP state name, or "CONNECTED"/"NONE" for UDP

    @property
    def key(self) -> str:
        return f"{self.proto} {self.laddr}:{self.lport} -> {self.raddr}:{self.rport}"


def _hex_ip(text: str) -> str:
    raw = bytes.fromhex(text)
    # /proc prints each 32-bit word in host byte order
    words = [raw[i:i + 4][::-1] if sys.byteorder == "little" else raw[i:i + 4] for i in range(0, len(raw), 4)]
    packed = b"".join(words)
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


def parse_proc_net(text: str, proto: str) -> list[Conn]:
    """Rows of one /proc/net table (the format is documented in proc(5))."""
    out = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 4:
            continue
        try:
            lhex, lport = parts[1].split(":")
            rhex, rport = parts[2].split(":")
            laddr, raddr = _hex_ip(lhex), _hex_ip(rhex)
            lp, rp = int(lport, 16), int(rport, 16)
        except ValueError:
            continue
        if proto.startswith("tcp"):
            state = _TCP_STATES.get(parts[3].upper(), parts[3])
        else:
            state = "CONNECTED" if rp else "NONE"
        out.append(Conn(proto, laddr, lp, raddr, rp, state))
    return out


def list_connections() -> list[Conn]:
    if sys.platform.startswith("linux") and os.path.exists("/proc/net/tcp"):
        conns: list[Conn] = []
        for proto in ("tcp", "tcp6", "udp", "udp6"):
            try:
                with open(f"/proc/net/{proto}", encoding="ascii", errors="replace") as fh:
                    conns.extend(parse_proc_net(fh.read(), proto))
            except OSError:
                continue  # no IPv6 in this kernel, for one
        return conns
    import psutil

    conns = []
    for c in psutil.net_connections(kind="inet"):
        proto = ("tcp" if c.type == socket.SOCK_STREAM else "udp") + ("6" if c.family == socket.AF_INET6 else "")
        r = c.raddr or ("", 0)
        state = c.status if proto.startswith("tcp") else ("CONNECTED" if r and r[1] else "NONE")
        conns.append(Conn(proto, c.laddr[0], c.laddr[1], r[0] if r else "", r[1] if r else 0, state))
    return conns


class OutboundClassifier:
    def __init__(self, ignore_networks=LOOPBACK):
        try:
            self.ignore = [ipaddress.ip_network(n, strict=False) for n in ignore_networks]
        except ValueError as exc:
            raise ValueError(f"outbound rule: bad network in ignore list: {exc}") from None

    def ignored(self, addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.split("%")[0])
        except ValueError:
            return False
        if ip.is_unspecified:
            return True
        return any(ip.version == n.version and ip in n for n in self.ignore)

    def outbound(self, conns: list[Conn]) -> list[Conn]:
        listening = {c.lport for c in conns if c.state == "LISTEN"}
        out = []
        for c in conns:
            if not c.rport or self.ignored(c.raddr):
                continue
            if c.proto.startswith("tcp") and c.state not in _ACTIVE:
                continue
            if c.proto.startswith("udp") and c.state != "CONNECTED":
                continue
            if c.lport in listening:
                continue  # a client connected to our server: inbound
            out.append(c)
        return out


def owner_of(conn: Conn) -> dict | None:
    """Best effort: the pid and name of the process holding ``conn`` (may need privileges)."""
    import psutil

    try:
        for c in psutil.net_connections(kind="inet"):
            if c.laddr and c.laddr[1] == conn.lport and c.raddr and c.raddr[1] == conn.rport and c.pid:
                try:
                    name = psutil.Process(c.pid).name()
                except psutil.Error:
                    name = "?"
                return {"pid": c.pid, "name": name}
    except (psutil.Error, OSError):
        return None
    return None
