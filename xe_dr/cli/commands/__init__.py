"""One module per xe-dr command; see COMMAND_MODULES in xe_dr/cli/__init__.py."""
