"""``serve``: a real sshd per site on 127.0.0.1 whose logins run that site's fake xe.

One client key (``DIR/ssh/id_ed25519``) is authorised on every site's server; their host keys
go to ``DIR/ssh/known_hosts``. While a site is dark (``disaster``) its sshd is stopped, so an
SSH client gets "connection refused" as from a dead coordinator; after ``restore`` it listens
again on the same port with the same host key.
"""

import os
import signal
import threading
import time

from . import util


def serve(lab, sites, out, poll=0.5, stop_after=None):
    from .sshd import SshServer, generate_key
    ssh_dir = lab.path("ssh")
    util.makedirs(ssh_dir)
    key = os.path.join(ssh_dir, "id_ed25519")
    if not os.path.exists(key):
        generate_key(key, "xe-dr-lab-client")
    known_hosts = os.path.join(ssh_dir, "known_hosts")
    servers = {}
    ports = {}

    def start(site):
        srv = SshServer(workdir=os.path.join(ssh_dir, site), client_key=key,
                        port=ports.get(site))
        srv.start()
        ports[site] = srv.port
        servers[site] = srv

    stopping = []
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    try:
        for site in sites:
            if not lab.is_dark(site):
                start(site)
        with open(known_hosts, "w") as f:
            for site in sites:
                if site in servers:
                    f.write(servers[site].known_hosts_line() + "\n")
        for site in sites:
            if site not in servers:
                out.write("site %s is dark: not serving it\n" % site)
                continue
            out.write("site %s: xe-dr -H root@127.0.0.1:%d --known-hosts %s --xe %s ...\n"
                      % (site, ports[site], known_hosts, lab.xe_path(site)))
            out.write("        (client key %s; plain ssh: ssh -i %s -p %d -o "
                      "UserKnownHostsFile=%s root@127.0.0.1 %s vm-list)\n"
                      % (key, key, ports[site], known_hosts, lab.xe_path(site)))
        out.flush()
        started = time.time()
        while not stopping:
            if stop_after is not None and time.time() - started > stop_after:
                break
            time.sleep(poll)
            lab.reload()
            for site in sites:
                if lab.is_dark(site) and site in servers:
                    servers.pop(site).stop()
                    out.write("site %s went dark: its sshd is stopped\n" % site)
                    out.flush()
                elif not lab.is_dark(site) and site not in servers:
                    start(site)
                    out.write("site %s is back on port %d\n" % (site, ports[site]))
                    out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        for srv in servers.values():
            srv.stop()
    return 0
