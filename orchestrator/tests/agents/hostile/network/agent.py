"""Hostile agent: tries TCP, UDP, IPv6 and abstract Unix sockets towards listeners of the test (ports and the
socket name are in the file `targets`), and pathname Unix sockets where `targets` names some (`unix=P,Q`),
reports each attempt on stderr, and quits at its first move."""
import os
import socket
import sys

with open(os.path.join(os.environ["HOME"], "pids"), "a") as f:
    f.write("%d\n" % os.getpid())
targets = dict(line.split("=", 1) for line in open("targets").read().split())


def attempt(what, fn):
    try:
        fn()
        sys.stderr.write("net %s: CONNECTED\n" % what)
    except Exception as error:
        sys.stderr.write("net %s: denied (%s: %s)\n" % (what, type(error).__name__, error))


def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(("127.0.0.1", int(targets["tcp"])))
    s.sendall(b"hostile tcp")


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"hostile udp", ("127.0.0.1", int(targets["udp"])))


def tcp6():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(("::1", int(targets["tcp6"])))
    s.sendall(b"hostile tcp6")


def abstract():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect("\0" + targets["abstract"])
    s.sendall(b"hostile unix")


def pathname(path):
    def connect():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(path)
        s.sendall(b"hostile unix")

    return connect


def raw():
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW)


attempts = [("tcp", tcp), ("udp", udp), ("tcp6", tcp6), ("abstract-unix", abstract), ("packet", raw)]
for path in filter(None, targets.get("unix", "").split(",")):
    attempts.append(("unix " + path, pathname(path)))
for what, fn in attempts:
    attempt(what, fn)
sys.stderr.flush()


def get_action(observation):
    os._exit(7)
