"""Enable FlowBuilder's testing kit (plugin_host, memory_store, compile_yaml, run_workflow).

In your own plugin's repository, this whole file is one line::

    pytest_plugins = ["flowbuilder.testing"]

This example lives inside FlowBuilder's monorepo, whose one-process test run makes this a
non-top-level conftest, where pytest refuses ``pytest_plugins``. Importing the kit's hook
and fixtures into the conftest is equivalent and works in both situations.
"""

from flowbuilder.testing import (  # noqa: F401  (re-exported for pytest)
    compile_yaml,
    flowbuilder_plugin_names,
    memory_store,
    plugin_host,
    pytest_configure,
    run_workflow,
)
