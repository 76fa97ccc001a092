"""Root of the test suite: the shared fixtures (real databases, in-process clients) come from the kit."""

pytest_plugins = ["arrs_kit.testing"]
