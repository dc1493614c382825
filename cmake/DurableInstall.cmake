# Packaging: filled in by the packaging work (install, export, config, version file).
