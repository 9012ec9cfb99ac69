"""The host plugin's own file, wherever this xe-dr runs from.

- ``xe-dr.pyz``: ``scripts/build-pyz`` embeds ``host-plugins/xe-dr`` as the package data
  ``xe_dr/host-plugins/xe-dr``, read through the zip importer;
- an installed package: the same package data, when the package was built with it;
- a checkout: ``host-plugins/xe-dr`` beside the ``xe_dr`` directory.
"""

import os
import pkgutil

from xe_dr.errors import ConfigError

PLUGIN_NAME = "xe-dr"
#: The plugin inside the xe_dr package (the pyz, or a package built with it).
PACKAGE_RESOURCE = "host-plugins/" + PLUGIN_NAME


def checkout_path():
    """Where a checkout keeps the plugin (it may not exist: an installed package)."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(package_dir), "host-plugins", PLUGIN_NAME)


def plugin_bytes():
    """The plugin's bytes, exactly as they are to be installed on a host."""
    try:
        data = pkgutil.get_data("xe_dr", PACKAGE_RESOURCE)
    except (IOError, OSError):
        data = None
    if data is not None:
        return data
    path = checkout_path()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (IOError, OSError):
        pass
    raise ConfigError("this xe-dr was built without its host plugin (%s)" % PACKAGE_RESOURCE,
                      hint="use an xe-dr.pyz built by scripts/build-pyz from a checkout that "
                           "has host-plugins/xe-dr, or run xe-dr from that checkout")
