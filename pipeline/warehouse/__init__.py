"""The warehouse build outside Luigi: how dbt is started, watched and stopped."""
