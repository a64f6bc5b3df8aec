# Faults and disconnects against the real binary (included from tests/CMakeLists.txt).
# itest_faults: files deleted / truncated / replaced mid-read, the data root going away and
# coming back, SIGTERM under load. itest_disconnect: clients closing at random byte offsets
# (FIN and RST), then no crash, no descriptor leak, every request counted once in /metrics.
tessera_integration_test(itest_faults integration/test_faults.c PkgConfig::TIFF)
tessera_integration_test(itest_disconnect integration/test_disconnect.c PkgConfig::TIFF)
