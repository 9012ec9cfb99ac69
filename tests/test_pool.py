"""The pool snapshot (xe_dr/pool.py): one xe call per class of object, made when first needed
and kept, several at once; plain values out of xe's printed forms. The outputs are xe's, byte
for byte (the lab's, reference xapi-dr.md 4.1: ``<not in database>`` for a null reference,
``true``/``false``, sets joined by ``"; "``, tags by ``", "``)."""

import threading

import pytest

from xe_dr.pool import Pool, PoolSnapshot
from xe_dr.runner.base import Runner
from xe_dr.xe import Xe, XeOutputError

POOL = "cd613e30-d8f1-4adf-91b7-584a2265b1f5"
FOREIGN = "21636369-8b52-4b4a-97b7-50923ceb3ffd"
DOM0, WEB, SNAP = ("e4b06ce6-0741-47a8-bce4-2c8218072e8c",
                   "18ede6c3-5300-4b63-8565-58b263a522e3",
                   "5f0c6d2e-93a1-4d8e-b0a7-1c2d3e4f5a6b")
SR_DR, SR_LOCAL = "bc9a0e0c-8ec2-4615-82f2-e77077cab1f9", "59805a17-2cde-4c51-972a-b68bc9b8056f"
TASK = "f0fdbeda-f8d5-40a0-84b7-2ca38c2f06e7"
DISK, COPY, OTHER_COPY = ("cc88ebd1-d0a0-49f5-8ced-509a0b27b4c9",
                          "a2ba5ce3-948a-4a72-81a2-7b0570f6efd1",
                          "e9d2c86c-f46b-4931-96a1-d83bc970d31a")

OUTPUTS = {
    "vm-list": (
        "uuid ( RO)                 : e4b06ce6-0741-47a8-bce4-2c8218072e8c\n"
        "           name-label ( RW): Control domain on host: xcp-a1\n"
        "        is-a-snapshot ( RO): false\n"
        "    is-control-domain ( RO): true\n"
        "          power-state ( RO): running\n"
        "                 tags (SRW): \n"
        "              version ( RO): 0\n"
        "\n\n"
        "uuid ( RO)                 : 18ede6c3-5300-4b63-8565-58b263a522e3\n"
        "           name-label ( RW): web-01\n"
        "        is-a-snapshot ( RO): false\n"
        "    is-control-domain ( RO): false\n"
        "          power-state ( RO): halted\n"
        "                 tags (SRW): xe-dr-ignore, web; prod\n"
        "              version ( RO): 3\n"
        "\n\n"
        "uuid ( RO)                 : 5f0c6d2e-93a1-4d8e-b0a7-1c2d3e4f5a6b\n"
        "           name-label ( RW): web-01 before the upgrade\n"
        "        is-a-snapshot ( RO): true\n"
        "    is-control-domain ( RO): false\n"
        "          power-state ( RO): halted\n"
        "                 tags (SRW): \n"
        "              version ( RO): 0\n"
        "\n\n"),
    "sr-list": (
        "uuid ( RO)             : bc9a0e0c-8ec2-4615-82f2-e77077cab1f9\n"
        "       name-label ( RW): iSCSI DR 1\n"
        "             type ( RO): lvmoiscsi\n"
        "           shared ( RW): true\n"
        "    introduced-by ( RO): f0fdbeda-f8d5-40a0-84b7-2ca38c2f06e7\n"
        "     other-config (MRW): xe-dr-run: 20261204-101500-test-1a2b; xe-dr-drtask: "
        "f0fdbeda-f8d5-40a0-84b7-2ca38c2f06e7\n"
        "\n\n"
        "uuid ( RO)             : 59805a17-2cde-4c51-972a-b68bc9b8056f\n"
        "       name-label ( RW): Local storage\n"
        "             type ( RO): lvm\n"
        "           shared ( RW): false\n"
        "    introduced-by ( RO): <not in database>\n"
        "     other-config (MRW): \n"
        "\n\n"),
    "vdi-list": (
        "uuid ( RO)                : cc88ebd1-d0a0-49f5-8ced-509a0b27b4c9\n"
        "             sr-uuid ( RO): bc9a0e0c-8ec2-4615-82f2-e77077cab1f9\n"
        "        virtual-size ( RO): 10737418240\n"
        "                type ( RO): User\n"
        "     metadata-latest ( RO): false\n"
        "    metadata-of-pool ( RO): <not in database>\n"
        "\n\n"
        "uuid ( RO)                : a2ba5ce3-948a-4a72-81a2-7b0570f6efd1\n"
        "             sr-uuid ( RO): bc9a0e0c-8ec2-4615-82f2-e77077cab1f9\n"
        "        virtual-size ( RO): 3988783104\n"
        "                type ( RO): Metadata\n"
        "     metadata-latest ( RO): true\n"
        "    metadata-of-pool ( RO): cd613e30-d8f1-4adf-91b7-584a2265b1f5\n"
        "\n\n"
        "uuid ( RO)                : e9d2c86c-f46b-4931-96a1-d83bc970d31a\n"
        "             sr-uuid ( RO): bc9a0e0c-8ec2-4615-82f2-e77077cab1f9\n"
        "        virtual-size ( RO): 3988783104\n"
        "                type ( RO): Metadata\n"
        "     metadata-latest ( RO): false\n"
        "    metadata-of-pool ( RO): <not in database>\n"
        "\n\n"),
    "vbd-list": (
        "uuid ( RO)                  : 852571d4-bf9e-495c-bfad-326153461eb3\n"
        "               vm-uuid ( RO): 18ede6c3-5300-4b63-8565-58b263a522e3\n"
        "              vdi-uuid ( RO): cc88ebd1-d0a0-49f5-8ced-509a0b27b4c9\n"
        "                  type ( RW): Disk\n"
        "    currently-attached ( RO): false\n"
        "\n\n"
        "uuid ( RO)                  : 86c0abfe-923b-4bea-a1d3-ff8211180cd9\n"
        "               vm-uuid ( RO): 18ede6c3-5300-4b63-8565-58b263a522e3\n"
        "              vdi-uuid ( RO): <not in database>\n"
        "                  type ( RW): CD\n"
        "    currently-attached ( RO): true\n"
        "\n\n"
        "uuid ( RO)                  : 3d1f6f0e-5d8c-4b6a-9e2f-7a8b9c0d1e2f\n"
        "               vm-uuid ( RO): e4b06ce6-0741-47a8-bce4-2c8218072e8c\n"
        "              vdi-uuid ( RO): a2ba5ce3-948a-4a72-81a2-7b0570f6efd1\n"
        "                  type ( RW): Disk\n"
        "    currently-attached ( RO): true\n"
        "\n\n"),
    "pbd-list": (
        "uuid ( RO)                  : d0a410da-ff11-4c91-b6a3-ce92bc2e9ff5\n"
        "             host-uuid ( RO): 78e51061-7311-48a3-82ce-6f447ed4d57b\n"
        "               sr-uuid ( RO): bc9a0e0c-8ec2-4615-82f2-e77077cab1f9\n"
        "    currently-attached ( RO): true\n"
        "         device-config (MRO): target: 10.0.1.50; port: 3260; targetIQN: "
        "iqn.2001-05.com.labarray:site-a; SCSIid: 360014059056a4ad683cbf721245568a\n"
        "\n\n"),
    "network-list": (
        "uuid ( RO)            : 4be03db0-dc25-44bd-b940-67edfe175330\n"
        "      name-label ( RW): Pool-wide network associated with eth0\n"
        "          bridge ( RO): xenbr0\n"
        "    other-config (MRW): \n"
        "\n\n"
        "uuid ( RO)            : cdf84404-0729-4e42-9990-1c0475491bc3\n"
        "      name-label ( RW): DMZ\n"
        "          bridge ( RO): xapi1\n"
        "    other-config (MRW): xe-dr-run: 20261204-101500-test-1a2b; xe-dr-run-kind: test\n"
        "\n\n"),
    "host-list": (
        "uuid ( RO)                : 78e51061-7311-48a3-82ce-6f447ed4d57b\n"
        "          name-label ( RW): xcp-a1\n"
        "             enabled ( RO): true\n"
        "    software-version (MRO): product_version: 8.3.0; product_brand: XCP-ng; "
        "build_number: cloud; xapi: 24.19; xapi_build: 24.19.2\n"
        "             address ( RO): 10.0.1.11\n"
        "         memory-free ( RO): 53150220288\n"
        "             edition ( RO): xcp-ng\n"
        "        multipathing ( RW): false\n"
        "\n\n"),
}


class CommandRunner(Runner):
    """Answers xe by its command (``vm-list``...) and counts the calls; ``meet``: commands
    that each wait until all of them are running at once (a barrier, so that a read made one
    after the other fails instead of passing)."""

    description = "fake"

    def __init__(self, outputs, meet=()):
        super(CommandRunner, self).__init__(timeout=30)
        self.outputs = outputs
        self.calls = []
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(len(meet), timeout=60) if meet else None
        self._meet = set(meet)

    def _execute(self, argv, input, timeout, secrets, env):
        with self._lock:
            self.calls.append(argv[1])
        if argv[1] in self._meet:
            self._barrier.wait()
        answer = self.outputs[argv[1]]
        return answer if isinstance(answer, tuple) else (0, answer, "")


def snapshot(outputs=None, meet=(), **given):
    runner = CommandRunner(dict(OUTPUTS, **(outputs or {})), meet)
    pool = Pool(POOL, "Site A", "78e51061-7311-48a3-82ce-6f447ed4d57b")
    return PoolSnapshot(Xe(runner), pool=given.get("pool", pool)), runner


def test_plain_values_out_of_xes_printed_forms():
    facts, _ = snapshot()
    assert facts.vms[WEB] == {"uuid": WEB, "name_label": "web-01", "power_state": "halted",
                              "version": 3, "tags": ["xe-dr-ignore", "web; prod"],
                              "control_domain": False, "snapshot": False}
    assert facts.vms[DOM0]["control_domain"] is True and facts.vms[DOM0]["tags"] == []
    assert list(facts.guests) == [WEB]  # neither the control domain nor the snapshot
    assert facts.srs[SR_DR] == {"uuid": SR_DR, "name_label": "iSCSI DR 1", "type": "lvmoiscsi",
                                "shared": True, "introduced_by": TASK, "other_config": {
                                    "xe-dr-run": "20261204-101500-test-1a2b",
                                    "xe-dr-drtask": TASK}}
    assert facts.srs[SR_LOCAL]["other_config"] == {}
    assert facts.srs[SR_LOCAL]["shared"] is False
    assert facts.srs[SR_LOCAL]["introduced_by"] is None  # <not in database>: no DR task
    assert facts.vdis[DISK] == {"uuid": DISK, "sr": SR_DR, "type": "User",
                                "size": 10737418240, "metadata_latest": False,
                                "metadata_of_pool": None}
    assert [v["vdi"] for v in facts.vbds] == [DISK, None, COPY]  # an empty CD drive: None
    assert [v["attached"] for v in facts.vbds] == [False, True, True]
    assert facts.pbds == [{"uuid": "d0a410da-ff11-4c91-b6a3-ce92bc2e9ff5",
                           "host": "78e51061-7311-48a3-82ce-6f447ed4d57b", "sr": SR_DR,
                           "attached": True, "device_config": {
                               "target": "10.0.1.50", "port": "3260",
                               "targetIQN": "iqn.2001-05.com.labarray:site-a",
                               "SCSIid": "360014059056a4ad683cbf721245568a"}}]
    assert facts.networks[0]["other_config"] == {}
    assert facts.networks[1] == {
        "uuid": "cdf84404-0729-4e42-9990-1c0475491bc3", "name_label": "DMZ",
        "bridge": "xapi1", "other_config": {"xe-dr-run": "20261204-101500-test-1a2b",
                                            "xe-dr-run-kind": "test"}}
    assert facts.editions == ["xcp-ng"]
    assert facts.hosts[0].edition == "xcp-ng"


def test_the_metadata_copies_and_what_a_control_domain_writes():
    facts, _ = snapshot()
    assert facts.metadata_copies() == [
        {"vdi": COPY, "sr": SR_DR, "pool": POOL, "latest": True, "local": True,
         "size": 3988783104},
        # its pool unknown to xapi's cache of foreign databases (<not in database>)
        {"vdi": OTHER_COPY, "sr": SR_DR, "pool": None, "latest": False, "local": False,
         "size": 3988783104}]
    assert facts.attached_to_dom0(COPY)
    assert not facts.attached_to_dom0(DISK)  # a guest's disk, and not plugged


def test_each_class_is_read_once_when_first_needed():
    facts, runner = snapshot()
    assert runner.calls == []  # nothing is read by the constructor
    for _ in range(3):
        facts.vms, facts.guests, facts.srs, facts.sr_name(SR_DR), facts.metadata_copies()
    assert sorted(runner.calls) == ["sr-list", "vdi-list", "vm-list"]
    assert facts.pool.uuid == POOL and runner.calls.count("pool-list") == 0  # given


def test_read_makes_its_calls_at_once():
    facts, runner = snapshot(meet=("vm-list", "network-list", "host-list"))
    facts.read("vms", "networks", "hosts")  # one after the other, the barrier would break
    facts.read("vms", "networks")
    assert sorted(runner.calls) == ["host-list", "network-list", "vm-list"]


def test_a_failed_read_raises_the_first_failure_in_the_order_asked():
    facts, _ = snapshot({"sr-list": "uuid ( RO)    : 12", "vm-list": "garbage\n"})
    with pytest.raises(XeOutputError) as failure:
        facts.read("vdis", "srs", "vms")
    assert "sr-list" in failure.value.one_line()
