"""The warehouse stage, without Luigi: building the star schema with dbt.

- ``current``: whether the last build (its marker) saw the staged files as they are now;
- ``changes``: what changed since the last successful build (play days, lookups, the project);
- ``selection``: which dbt nodes an incremental build selects;
- ``prepare``: what dbt reads besides the plays (listeners, placeholders);
- ``run``: one dbt command for a lake (arguments, environment, the build's requests);
- ``dbt_process``: dbt as a watched child process group;
- ``build``: one whole build, and its marker.

The Luigi task is ``pipeline.tasks.warehouse.DbtBuild``; the publish is ``pipeline.reporting``.
"""
