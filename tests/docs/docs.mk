# Documentation that must follow the code.
TEST_BINS += $(HFITOP)
TEST_CMDS += "tests/docs/doctor_table.sh $(HFITOP) README.md"

# `make install` into a DESTDIR: man page, completions, the kubectl plugin.
# man-db and groff render the page; zsh loads its completion; kubectl (the
# manifests tests need it too) finds the plugin.
DEB_PACKAGES += man-db groff-base zsh
TEST_BINS += $(HFITOP) $(HFITOP_DOCGEN) $(HFITOP_DOCS) $(PLUGIN_WASM)
TEST_CMDS += "tests/docs/install.sh $(SAN) $(HFITOP_DOCGEN)"
