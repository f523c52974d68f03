#!/usr/bin/env python3
"""A user-space impaired link between two network namespaces (netem's job, without netem).

Used by tests/test_faults.sh when the kernel has no netem qdisc (sch_netem not built, as in
some container kernels). One TUN device is created in each namespace, each with an address
of one subnet; every IP packet one side routes into its TUN is read here and written, after
impairment, into the other side's TUN. Per packet and per direction:
  - loss: dropped with probability --loss %;
  - delay: held --delay ms +- --jitter ms (uniform), so packets closer together than the
    jitter overtake each other;
  - reordering: --reorder % of the packets are held back a further --hold-min..--hold-max ms;
  - duplication: --dup % are delivered twice, each copy with its own delay.
The RNG is seeded (--seed, else random) and the seed is printed on the ready line, so that a
failing run's packet fate can be replayed.

A TUN device lives in the namespace of the process that creates it, and Python 3.11 has no
os.setns: each device is made by `ip netns exec NS wire.py --end FD NAME`, which opens it and
passes the descriptor back over a Unix socket, so that one process forwards both.

Bounded: the wire exits on EOF of its standard input (a pipe whose write end the parent holds,
so the parent's death closes it), when its parent process changes (the pipe may also have been
inherited by the parent's other children), on SIGTERM/SIGINT, and after --max-seconds. At exit
it prints its counters per direction on standard error; the devices vanish with their
descriptors.
"""

import argparse
import fcntl
import heapq
import math
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
# Packets held at once; beyond it the wire drops (and counts) rather than grow without bound.
MAX_HELD = 20000
# Packets read from one device per wake-up, so that one busy direction cannot starve the other.
READ_BURST = 64


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    ifreq = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifreq)
    return fd


def end_main(sock_fd, name):
    """Runs inside the namespace: create the device there and hand its descriptor over."""
    sock = socket.socket(fileno=sock_fd)
    tun = open_tun(name)
    socket.send_fds(sock, [name.encode()], [tun])
    return 0


def make_end(ns, name):
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__),
             "--end", str(child.fileno()), name],
            pass_fds=[child.fileno()], check=True, timeout=20)
        child.close()
        parent.settimeout(5)
        _, fds, _, _ = socket.recv_fds(parent, 64, 1)
    finally:
        parent.close()
        child.close()
    if len(fds) != 1:
        raise RuntimeError(f"no TUN descriptor from namespace {ns}")
    return fds[0]


def configure(ns, name, cidr):
    for cmd in (["addr", "add", cidr, "dev", name], ["link", "set", name, "up"]):
        subprocess.run(["ip", "-n", ns] + cmd, check=True, timeout=20)


def parse_side(text):
    parts = text.split(",")
    if len(parts) != 3 or "/" not in parts[2]:
        raise argparse.ArgumentTypeError("expected NAMESPACE,DEVICE,ADDRESS/PREFIX")
    return parts


class Direction:
    def __init__(self, label, dst):
        self.label = label
        self.dst = dst
        self.seen = 0
        self.dropped = 0
        self.duplicated = 0
        self.held_back = 0
        self.forwarded = 0
        self.out_of_order = 0
        self.overflow = 0
        self.write_errors = 0
        self.next_seq = 0
        self.max_delivered = -1

    def summary(self):
        return (f"{self.label}: seen={self.seen} forwarded={self.forwarded} "
                f"dropped={self.dropped} duplicated={self.duplicated} "
                f"held_back={self.held_back} out_of_order={self.out_of_order} "
                f"overflow={self.overflow} write_errors={self.write_errors}")


class Wire:
    def __init__(self, args, rng):
        self.a = args
        self.rng = rng
        self.held = []  # heap of (due, tiebreak, direction, seq, packet)
        self.tiebreak = 0

    def ingest(self, d, packet, now):
        a, rng = self.a, self.rng
        d.seen += 1
        seq = d.next_seq
        d.next_seq += 1
        if rng.random() * 100 < a.loss:
            d.dropped += 1
            return
        copies = 1
        if rng.random() * 100 < a.dup:
            copies = 2
            d.duplicated += 1
        for _ in range(copies):
            delay = a.delay + rng.uniform(-a.jitter, a.jitter)
            if rng.random() * 100 < a.reorder:
                delay += rng.uniform(a.hold_min, a.hold_max)
                d.held_back += 1
            if len(self.held) >= MAX_HELD:
                d.overflow += 1
                continue
            self.tiebreak += 1
            heapq.heappush(self.held, (now + max(delay, 0) / 1000, self.tiebreak, d, seq, packet))

    def deliver_due(self, now):
        while self.held and self.held[0][0] <= now:
            _, _, d, seq, packet = heapq.heappop(self.held)
            if seq < d.max_delivered:
                d.out_of_order += 1
            d.max_delivered = max(d.max_delivered, seq)
            try:
                os.write(d.dst, packet)
                d.forwarded += 1
            except OSError:
                # The device is down or its queue full: on a real wire the packet is lost.
                d.write_errors += 1

    def next_due(self):
        return self.held[0][0] if self.held else None


def run(args):
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    (ns_a, dev_a, cidr_a), (ns_b, dev_b, cidr_b) = args.a, args.b
    fd_a = make_end(ns_a, dev_a)
    fd_b = make_end(ns_b, dev_b)
    configure(ns_a, dev_a, cidr_a)
    configure(ns_b, dev_b, cidr_b)

    wire = Wire(args, rng)
    a_to_b = Direction(f"{dev_a}->{dev_b}", fd_b)
    b_to_a = Direction(f"{dev_b}->{dev_a}", fd_a)
    source = {fd_a: a_to_b, fd_b: b_to_a}
    control = sys.stdin.fileno()
    parent = os.getppid()
    poller = select.poll()
    for fd in (fd_a, fd_b, control):
        poller.register(fd, select.POLLIN)

    print(f"wire: ready seed={seed} loss={args.loss}% delay={args.delay}ms+-{args.jitter}ms "
          f"reorder={args.reorder}%+{args.hold_min}-{args.hold_max}ms dup={args.dup}% "
          f"{dev_a}={cidr_a} {dev_b}={cidr_b}", flush=True)

    start = time.monotonic()
    reason = "max lifetime"
    try:
        while True:
            now = time.monotonic()
            left = start + args.max_seconds - now
            if left <= 0:
                break
            due = wire.next_due()
            # The parent check needs a wake-up now and then even on a silent wire.
            wait = min(left, 0.5 if due is None else max(due - now, 0))
            events = poller.poll(math.ceil(wait * 1000))
            now = time.monotonic()
            if os.getppid() != parent:
                reason = "parent gone"
                break
            for fd, _ in events:
                if fd == control:
                    if not os.read(control, 4096):
                        reason = "control pipe closed"
                        raise StopIteration
                    continue
                d = source[fd]
                for _ in range(READ_BURST):
                    try:
                        packet = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    wire.ingest(d, packet, now)
            wire.deliver_due(time.monotonic())
    except StopIteration:
        pass
    except KeyboardInterrupt:
        reason = "signal"
    finally:
        print(f"wire: exit ({reason}) seed={seed} after {time.monotonic() - start:.1f}s; "
              f"{a_to_b.summary()}; {b_to_a.summary()}", file=sys.stderr, flush=True)
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--end":
        return end_main(int(sys.argv[2]), sys.argv[3])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", type=parse_side, required=True, metavar="NS,DEV,ADDR/PREFIX")
    p.add_argument("--b", type=parse_side, required=True, metavar="NS,DEV,ADDR/PREFIX")
    p.add_argument("--loss", type=float, default=5.0, help="percent of packets dropped")
    p.add_argument("--delay", type=float, default=20.0, help="mean one-way delay, ms")
    p.add_argument("--jitter", type=float, default=10.0, help="uniform +- around the delay, ms")
    p.add_argument("--reorder", type=float, default=25.0, help="percent held back further")
    p.add_argument("--hold-min", type=float, default=10.0, help="extra hold, ms (low)")
    p.add_argument("--hold-max", type=float, default=30.0, help="extra hold, ms (high)")
    p.add_argument("--dup", type=float, default=2.0, help="percent delivered twice")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--max-seconds", type=float, default=300.0, help="lifetime bound")
    args = p.parse_args()
    # SIGTERM ends the run like ^C, through the finally block that prints the counters.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
