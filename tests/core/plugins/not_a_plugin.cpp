// A real shared library that is not a compaudit plugin: it has no compaudit_plugin_entry.
extern "C" __attribute__((visibility("default"))) int compaudit_test_not_a_plugin() { return 42; }
