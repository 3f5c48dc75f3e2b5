"""The six classic nets, one file each, with factories by name."""
