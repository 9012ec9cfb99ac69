"""``serve``: a real sshd per site on 127.0.0.1 whose logins run that site's fake xe.

One client key (``DIR/ssh/id_ed25519``) is authorised on every site's server; their host keys
go to ``DIR/ssh/known_hosts``. While a site is dark (``disaster``) its sshd is stopped, so an
SSH client gets "connection refused" as from a dead coordinator; after ``restore`` it listens
again on the same port with the same host key. A site already dark when ``serve`` starts gets
its port and host key then (known_hosts names it), so that it comes back where the sites file
says.

``sites_file``: once every site listens, write xe-dr's sites file of the served sites (one
``[pool SITE]`` each: its master on its port, its fake xe, ``site = primary`` with its peer
and replicated SRs, or ``site = dr``), dark ones included: a status of the estate reports them
unreachable.
"""

import os
import pwd
import signal
import threading
import time

from . import array, replication, util

SITES_FILE_HEADER = """\
# The sites file of the xe-dr lab in %(lab)s, written by
# `python -m xe_dr.lab serve`: the masters' ports are those of that serve.
"""


def serve(lab, sites, out, poll=0.5, stop_after=None, sites_file=None):
    from .sshd import SshServer, SshServerError, generate_key, read_public_key, free_port
    ssh_dir = lab.path("ssh")
    util.makedirs(ssh_dir)
    key = os.path.join(ssh_dir, "id_ed25519")
    if not os.path.exists(key):
        generate_key(key, "xe-dr-lab-client")
    known_hosts = os.path.join(ssh_dir, "known_hosts")
    user = pwd.getpwuid(os.getuid()).pw_name  # whom SshServer authorises the key for
    servers = {}
    ports = {}
    host_keys = {}

    def start(site):
        srv = SshServer(workdir=os.path.join(ssh_dir, site), client_key=key,
                        port=ports.get(site))
        srv.start()
        ports[site] = srv.port
        host_keys[site] = srv.host_public_key
        servers[site] = srv

    def reserve(site):
        """A dark site's port and host key (SshServer's file names), kept for its restore."""
        workdir = os.path.join(ssh_dir, site)
        util.makedirs(workdir)
        host_key = os.path.join(workdir, "ssh_host_ed25519_key")
        if not os.path.exists(host_key):
            generate_key(host_key, "xe-dr-lab-host")
        host_keys[site] = read_public_key(host_key + ".pub")
        ports[site] = free_port("127.0.0.1")

    stopping = []
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    try:
        for site in sites:
            if lab.is_dark(site):
                reserve(site)
            else:
                start(site)
        with open(known_hosts, "w") as f:
            for site in sites:
                f.write("[127.0.0.1]:%d %s\n" % (ports[site], host_keys[site]))
        for site in sites:
            if site not in servers:
                out.write("site %s is dark: not serving it (port %d when restored)\n"
                          % (site, ports[site]))
                continue
            out.write("site %s: xe-dr -H %s@127.0.0.1:%d --known-hosts %s --xe %s ...\n"
                      % (site, user, ports[site], known_hosts, lab.xe_path(site)))
            out.write("        (client key %s; plain ssh: ssh -i %s -p %d -o "
                      "UserKnownHostsFile=%s %s@127.0.0.1 %s vm-list)\n"
                      % (key, key, ports[site], known_hosts, user, lab.xe_path(site)))
        if sites_file:
            util.atomic_write(sites_file, sites_file_text(lab, sites, ports, user, key,
                                                          known_hosts))
            out.write("sites file %s\n" % os.path.abspath(sites_file))
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
                    try:
                        start(site)
                    except SshServerError as e:  # its port taken meanwhile: try again
                        out.write("site %s: cannot listen on port %d yet: %s\n"
                                  % (site, ports[site], e))
                    else:
                        out.write("site %s is back on port %d\n" % (site, ports[site]))
                    out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        for srv in servers.values():
            srv.stop()
    return 0


def sites_file_text(lab, sites, ports, user, identity, known_hosts):
    """xe-dr's sites file (INI) naming each of ``sites`` as a pool of the estate."""
    lines = [SITES_FILE_HEADER % {"lab": lab.root}, "[defaults]", "ssh = openssh",
             "known-hosts = " + known_hosts, "identity = " + identity]
    data = array.load(lab)
    for site in sites:
        lines += ["", "[pool %s]" % site, "site = " + lab.role(site),
                  "master = %s@127.0.0.1:%d" % (user, ports[site]),
                  "xe = " + lab.xe_path(site)]
        if lab.role(site) != "primary":
            continue
        if lab.peer(site) in sites:
            lines.append("peer = " + lab.peer(site))
        srs = replicated_sr_names(lab, data, site)
        if srs:
            lines += ["srs ="] + ["    " + name for name in srs]
    return "\n".join(lines) + "\n"


def replicated_sr_names(lab, data, site):
    """The names of the site's SRs on LUNs mirrored from it, in LUN order."""
    db = lab.site(site).read()
    mirrored = array.mirrored_from(data, site)
    found = []
    for sr_ref, row in db.rows("SR").items():
        lun_id = replication.sr_lun(data, site, db, sr_ref)
        if lun_id in mirrored:
            found.append((mirrored.index(lun_id), row["name_label"]))
    return [name for _, name in sorted(found)]
