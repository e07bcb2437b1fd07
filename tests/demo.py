#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The README's demo: nportsim (2 ports, echo) and realcomd with the pty
backend; an application opens ttyR0, sets 115200 8N1 and exchanges a line."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "integration"))
from itlib import Realcomd, Sim, realcom_port  # noqa: E402

import serial  # noqa: E402  (python3-serial: the application side)


def main():
    keep = "--keep" in sys.argv[1:]
    sim = Sim("--ports", "2", "--echo")
    print(f"== nportsim: 2 ports, echo; Real COM data {sim.data_port(1)}-{sim.data_port(2)}, "
          f"command {sim.command_port(1)}-{sim.command_port(2)} on 127.0.0.1")
    # the kernel backend when realcom.ko is loaded, else ptys
    d = Realcomd({0: realcom_port(sim, 1), 1: realcom_port(sim, 2)}, backend="auto")
    print(f"== realcomd: {d.tty(0)} and {d.tty(1)} ({d.port(0)['backend']} backend)")
    try:
        with serial.Serial(d.tty(0), 115200, bytesize=8, parity="N", stopbits=1,
                           timeout=10) as app:
            print(f"== application: opened {d.tty(0)} at 115200 8N1")
            line = b"hello from realcom\n"
            app.write(line)
            print(f"   > {line.decode().rstrip()}")
            back = app.readline()
            print(f"   < {back.decode(errors='replace').rstrip()}")
            if back != line:
                print("demo: the line did not come back", file=sys.stderr)
                return 1
            p = sim.port(1)
            print(f"== the simulated device applied: {p['baud']} baud, {p['data_bits']} data "
                  f"bits, parity {p['parity']}, DTR {'on' if p['dtr'] else 'off'}, "
                  f"RTS {'on' if p['rts'] else 'off'}")
            print("== realcomctl status")
            out = d.realcomctl("status")
            print(out.stdout, end="")
        if keep:
            print(f"""== left running (--keep):
   the ports:      {d.tty(0)}  {d.tty(1)}   (e.g. picocom -b 115200 {d.tty(0)})
   status:         {os.environ.get('REALCOMCTL', 'realcomctl')} -s {d.path('control')} status
   the "device":   {sim.path('port1')} (the serial side of port 1)
   stop:           kill {d.proc.pid} {sim.proc.pid}; rm -rf {d.dir} {sim.dir}""")
            d.proc = sim.proc = None  # not ours to stop any more
        return 0
    finally:
        if not keep:
            d.close()
            sim.close()


if __name__ == "__main__":
    sys.exit(main())
