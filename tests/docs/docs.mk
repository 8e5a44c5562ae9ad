# Documentation that must follow the code.
TEST_BINS += $(HFITOP)
TEST_CMDS += "tests/docs/doctor_table.sh $(HFITOP) README.md"
