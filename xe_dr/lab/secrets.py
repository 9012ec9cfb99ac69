"""What xapi does with passwords in a device-config (``ocaml/xapi/xapi_secret.ml``).

* ``move_passwords`` (``move_passwds_to_secrets``, called by message_forwarding.ml on
  SR.create, SR.make, SR.probe, SR.probe_ext, PBD.create and PBD.set_device_config, and by
  xapi_db_upgrade.ml at every start): every key ending in ``password`` is replaced by
  ``<key>_secret`` naming a *new* secret that holds the value. The map comes back reversed
  (``List.rev_map``). Nothing destroys those secrets later: each probe or PBD.create given a
  plain password leaves one behind.
* ``duplicate_passwords`` (``duplicate_passwds``, Xapi_pbd.create_common): every key ending in
  ``password_secret`` is given a fresh copy of its secret, so that each PBD owns its own (an
  unknown secret uuid is UUID_INVALID ``secret``).
* ``clean_out_passwords`` (``clean_out_passwds``, PBD.destroy and so SR.forget): the secrets a
  PBD's ``*password_secret`` keys name are destroyed (missing ones are ignored).
"""


def _new_secret(db, value):
    ref = db.create("secret", {"value": value, "other_config": {}})
    return db.get("secret", ref)["uuid"]


def move_passwords(db, items):
    """[(key, value)] -> the same map, reversed, with passwords moved into new secrets."""
    out = []
    for key, value in items:
        if key.endswith("password"):
            out.append((key + "_secret", _new_secret(db, value)))
        else:
            out.append((key, value))
    out.reverse()
    return out


def duplicate_passwords(db, items):
    out = []
    for key, value in items:
        if key.endswith("password_secret"):
            secret = db.get("secret", db.by_uuid("secret", value))
            out.append((key, _new_secret(db, secret.get("value", ""))))
        else:
            out.append((key, value))
    return out


def clean_out_passwords(db, device_config):
    for key, value in (device_config or {}).items():
        if key.endswith("password_secret"):
            ref = db.lookup_uuid("secret", value)
            if ref is not None:
                db.delete("secret", ref)


def has_password(items):
    return any(key.endswith("password") for key, _ in items)


def moved(site, items):
    """``move_passwords`` in a transaction of its own (the secrets stay even if what follows
    fails, as xapi writes them at once); returns the new [(key, value)]."""
    items = list(items)
    if not has_password(items):
        return list(reversed(items))
    with site.transaction() as db:
        return move_passwords(db, items)
