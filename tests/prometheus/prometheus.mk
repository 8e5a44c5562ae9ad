# tests/prometheus: Debian's Prometheus 2.42 (built without Kubernetes
# discovery: it reads meshsim's file_sd list) scraping meshsim's sidecars.

DEB_PACKAGES += prometheus

TEST_CMDS += "tests/prometheus/targets.sh $(MESHSIM)"
