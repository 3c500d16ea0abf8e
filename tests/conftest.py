"""The tests' shared harness (tests/support) as a plugin: its fixtures reach every folder
without a test importing another folder's conftest."""

pytest_plugins = ["tests.support.fixtures", "tests.support.background"]
